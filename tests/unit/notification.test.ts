import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionContext } from '../../src/executors/executor.ts';
import { fillPlaceholders, NotificationActionSchema, notificationExecutor } from '../../src/executors/notification.executor.ts';

function context(over: Partial<ExecutionContext> = {}) {
  const emitted: { type: string; data: unknown }[] = [];
  const ctx: ExecutionContext = {
    runId: 'run-1',
    rootRunId: 'run-1',
    sequenceId: 'greenhouse',
    priority: 100,
    ruleName: 'Frost',
    stepIndex: 0,
    stepName: 'Warn',
    phase: 'steps',
    attempt: 0,
    depth: 1,
    signal: new AbortController().signal,
    timeoutMs: 5000,
    deadline: Date.now() + 5000,
    attachControl: () => {},
    emit: (type, data) => void emitted.push({ type, data }),
    ...over,
  };
  return { ctx, emitted };
}

/** Runs the executor as the engine does: on the action as validation parsed it. */
const execute = (action: Record<string, unknown>, ctx: ExecutionContext) =>
  (notificationExecutor.execute as NonNullable<typeof notificationExecutor.execute>)(NotificationActionSchema.parse({ type: 'notification', ...action }), ctx);

describe('notification executor: websocket channel', () => {
  it('publishes a notification event with the placeholders filled', async () => {
    const { ctx, emitted } = context();
    const message = await execute({ title: '{sequence_id}', message: '{step_name} for {rule_name}', severity: 'critical' }, ctx);
    expect(message).toBe('Notification sent: greenhouse');
    expect(emitted).toEqual([
      { type: 'notification', data: { sequence_id: 'greenhouse', run_id: 'run-1', title: 'greenhouse', message: 'Warn for Frost', severity: 'critical', step_name: 'Warn' } },
    ]);
  });

  it('defaults to the websocket channel, info severity and no title', async () => {
    const { ctx, emitted } = context({ ruleName: null });
    expect(await execute({ message: 'rule: {rule_name}.' }, ctx)).toBe('Notification sent: rule: .');
    expect(emitted[0]?.data).toMatchObject({ severity: 'info', title: '', message: 'rule: .' });
  });

  it('leaves text that is not a known placeholder alone', () => {
    expect(fillPlaceholders('{zone} {sequence_id}', { sequence_id: 's' })).toBe('{zone} s');
  });

  it('validates the payload: a webhook needs an http(s) target and a message is required', () => {
    expect(NotificationActionSchema.safeParse({ type: 'notification', channel: 'webhook', message: 'x' }).success).toBe(false);
    expect(NotificationActionSchema.safeParse({ type: 'notification', channel: 'webhook', target: 'ftp://x', message: 'x' }).success).toBe(false);
    expect(NotificationActionSchema.safeParse({ type: 'notification' }).success).toBe(false);
    expect(NotificationActionSchema.safeParse({ type: 'notification', channel: 'webhook', target: 'https://hooks.example/x', message: 'x' }).success).toBe(true);
  });
});

describe('notification executor: webhook channel', () => {
  let server: Server;
  let url: string;
  let received: { method?: string; type?: string; authorization?: string; body: unknown }[];
  let reply: (req: IncomingMessage, res: ServerResponse) => void;
  let arrived: Promise<void>;

  beforeEach(async () => {
    received = [];
    reply = (_req, res) => res.writeHead(204).end();
    let signalArrival = () => {};
    arrived = new Promise<void>((resolve) => (signalArrival = resolve));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        received.push({
          method: req.method,
          type: req.headers['content-type'],
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
          body: body ? JSON.parse(body) : null,
        });
        signalArrival();
        reply(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('POSTs JSON with the run, step, rule and filled text to the target', async () => {
    const { ctx, emitted } = context();
    const message = await execute({ channel: 'webhook', target: url, title: 'Frost', message: 'at {sequence_id}', severity: 'warning' }, ctx);
    expect(message).toBe(`Webhook ${url} answered 204`);
    expect(received).toEqual([
      {
        method: 'POST',
        type: 'application/json',
        body: { sequence_id: 'greenhouse', run_id: 'run-1', step_name: 'Warn', rule_name: 'Frost', title: 'Frost', message: 'at greenhouse', severity: 'warning' },
      },
    ]);
    expect(emitted).toEqual([]);
  });

  it('fails the step with 5614 when the webhook answers an error status', async () => {
    reply = (_req, res) => res.writeHead(500).end('broken');
    const { ctx } = context();
    await expect(execute({ channel: 'webhook', target: url, message: 'x' }, ctx)).rejects.toMatchObject({
      code: 5614,
      message: `Webhook ${url} answered 500`,
    });
  });

  it('sends the credentials of the URL as Basic auth, and names the URL without them or the query when it answers an error', async () => {
    reply = (_req, res) => res.writeHead(503).end();
    const { ctx } = context();
    const secret = url.replace('http://', 'http://hooks:s3cret@') + '?api_key=k3y';
    const failure = await execute({ channel: 'webhook', target: secret, message: 'x' }, ctx).catch((error: Error) => error);
    expect(failure).toMatchObject({ code: 5614, message: `Webhook ${url}?… answered 503` });
    expect((failure as Error).message).not.toMatch(/s3cret|k3y|hooks:/);
    expect(received[0]?.authorization).toBe(`Basic ${Buffer.from('hooks:s3cret').toString('base64')}`);
  });

  it('says the connection was refused, with its code, when nobody listens', async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const { ctx } = context();
    await expect(execute({ channel: 'webhook', target: url, message: 'x' }, ctx)).rejects.toMatchObject({
      code: 5614,
      message: `Webhook ${url} failed: connection refused by 127.0.0.1 (ECONNREFUSED)`,
    });
    server = createServer().listen(0, '127.0.0.1');
  });

  it('says the DNS lookup failed, with its code, for a host that does not resolve', async () => {
    const { ctx } = context();
    await expect(execute({ channel: 'webhook', target: 'https://sequencer-test.invalid/hook', message: 'x' }, ctx)).rejects.toMatchObject({
      code: 5614,
      message: expect.stringMatching(/^Webhook https:\/\/sequencer-test\.invalid\/hook failed: DNS lookup of sequencer-test\.invalid failed \((ENOTFOUND|EAI_AGAIN)\)$/),
    });
  });

  it('is bounded by the step: an abort of its signal ends a webhook that does not answer', async () => {
    reply = () => {};
    const controller = new AbortController();
    const { ctx } = context({ signal: controller.signal });
    const pending = execute({ channel: 'webhook', target: url, message: 'x' }, ctx);
    await arrived;
    controller.abort(new Error('Step timed out'));
    await expect(pending).rejects.toThrow('Step timed out');
  });
});
