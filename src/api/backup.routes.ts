/**
 * `POST /api/v1/backup` (operator): a consistent copy of the database while the server runs. The
 * server holds its SQLite file exclusively, so no other program can copy it safely; this route
 * takes SQLite's online backup into a temporary file beside the database (the same disk, which
 * has room for it), streams that file to the caller and deletes it. `sequencer backup <file>`
 * calls it.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Codes, SequencerError } from '../domain/errors.ts';
import type { Services } from '../services.ts';
import { errorResponses } from './api.schemas.ts';

/** Options of the backup route. */
export interface BackupRoutesOptions {
  services: Services;
}

/** The media type of a SQLite database file. */
export const SQLITE_MEDIA_TYPE = 'application/vnd.sqlite3';

/** Registers `POST /backup` (under the API prefix). */
export async function backupRoutes(app: FastifyInstance, { services }: BackupRoutesOptions): Promise<void> {
  // Not through the zod type provider: the answer is a file stream, which Fastify sends as it is.
  app.post('/backup', {
    schema: {
      tags: ['service'],
      summary: 'A consistent copy of the database, taken while the server runs (SQLite online backup); restore it with --db',
      response: {
        200: {
          description: 'The SQLite database file',
          content: { [SQLITE_MEDIA_TYPE]: { schema: z.string().meta({ format: 'binary' }) } },
        },
        ...errorResponses(501),
      },
    },
  }, async (_request, reply) => {
    const { store, config } = services;
    if (!store?.backup) throw new SequencerError(Codes.INTERNAL_ERROR, 'This server keeps no database it can copy while running', [], 501);
    const directory = config.db === ':memory:' ? tmpdir() : dirname(config.db);
    const file = join(directory, `.sequencer-backup-${randomUUID()}.db`);
    try {
      // Every change seen so far is committed first, so the copy has it.
      await services.engine.whenDurable();
      await store.backup(file);
    } catch (error) {
      await rm(file, { force: true });
      throw new SequencerError(Codes.INTERNAL_ERROR, `The backup could not be written: ${(error as Error).message}`, [], 500);
    }
    const stream = createReadStream(file);
    // Sent, failed or abandoned by the caller: the copy is not kept on the server.
    stream.once('close', () => void rm(file, { force: true }));
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return reply.type(SQLITE_MEDIA_TYPE).header('content-disposition', `attachment; filename="sequencer-${stamp}.db"`).send(stream);
  });
}
