/**
 * Sequence template routes (SPEC 7). Placeholder until templates land; registered by buildApp.
 */
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.ts';

/** Registers `/sequence-templates` routes (under the API prefix). */
export async function templateRoutes(_app: FastifyInstance, _options: { services: Services }): Promise<void> {}
