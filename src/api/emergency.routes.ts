/**
 * Emergency stop routes (SPEC 7). Placeholder until the safety routes land; registered by buildApp.
 */
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.ts';

/** Registers `POST /emergency-stop` and `POST /emergency-stop/clear` (under the API prefix). */
export async function emergencyRoutes(_app: FastifyInstance, _options: { services: Services }): Promise<void> {}
