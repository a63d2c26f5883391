/**
 * The WebSocket event stream (SPEC 8). Placeholder until the stream lands; registered by buildApp.
 */
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.ts';

/** Options of the stream plugin. */
export interface WsPluginOptions {
  services: Services;
}

/** Registers `/api/v1/ws` and `/ws/realtime/:client_id`. */
export async function wsPlugin(_app: FastifyInstance, _options: WsPluginOptions): Promise<void> {}
