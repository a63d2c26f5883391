import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/server-config.ts';
import { call, twoNodesPerFile } from './cluster-harness.ts';
import { connect } from './ws-harness.ts';

const nodes = twoNodesPerFile({ limits: { ...defaultConfig().limits, max_concurrent: 2 } });

/** A parallel run that waits ten minutes. */
const soak = { mode: 'parallel', steps: [{ name: 'soak', delay_seconds: 600 }] };

const FULL = { error: { code: 5610, message: 'Concurrency limit reached (2 runs)' } };

describe('the concurrency limit across nodes', () => {
  it('refuses a third run on either node while node A and node B run one each, and admits one again when a run has ended', async () => {
    const { a, b } = nodes;
    const onA = await connect(a.wsUrl());
    const first = await a.start(soak);
    const second = await b.start(soak);
    for (const node of [a, b]) {
      const third = await call(node, 'POST', '/sequences', soak);
      expect(third.status).toBe(409);
      expect(third.body).toMatchObject(FULL);
    }
    expect((await call(a, 'POST', `/sequences/${second.run_id}/cancel`, {})).status).toBe(200);
    await onA.completed(second.run_id);
    const again = await call(a, 'POST', '/sequences', soak);
    expect(again.status).toBe(202);
    for (const runId of [first.run_id, again.body.run_id as string]) {
      await call(b, 'POST', `/sequences/${runId}/cancel`, {});
      await onA.completed(runId);
    }
    onA.ws.close();
  });

  it('admits exactly two of six starts sent to both nodes at the same moment', async () => {
    const { a, b } = nodes;
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => call(i % 2 === 0 ? a : b, 'POST', '/sequences', soak)));
    expect(answers.filter((answer) => answer.status === 202)).toHaveLength(2);
    for (const refused of answers.filter((answer) => answer.status !== 202)) expect(refused).toMatchObject({ status: 409, body: FULL });
  });
});
