import { describe, expect, it } from 'vitest';
import { call, twoNodesPerFile } from './cluster-harness.ts';
import { connect } from './ws-harness.ts';

const nodes = twoNodesPerFile();

/** A run of `sequenceId` in `mode` that waits ten minutes. */
const soak = (sequenceId: string, mode = 'single') => ({ sequence_id: sequenceId, mode, steps: [{ name: 'soak', delay_seconds: 600 }] });

describe('start modes across nodes', () => {
  it('refuses a single start on node B while node A runs the sequence, and lets parallel ones run beside it', async () => {
    const { a, b } = nodes;
    const first = await a.start(soak('irrigate-1'));
    const second = await call(b, 'POST', '/sequences', soak('irrigate-1'));
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ error: { code: 5610, message: `Sequence 'irrigate-1' is already running on node node-a (run ${first.run_id})` } });
    expect((await call(b, 'POST', '/sequences', soak('irrigate-1', 'parallel'))).status).toBe(202);
  });

  it("queues on node B a sequence node A runs: B's run starts once A's has completed, and completes", async () => {
    const { a, b } = nodes;
    const onB = await connect(b.wsUrl());
    const short = (mode: string) => ({ sequence_id: 'fill-1', mode, steps: [{ name: 'fill', delay_seconds: 0.5 }] });
    const first = await a.start(short('single'));
    const queued = await call(b, 'POST', '/sequences', short('queued'));
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ sequence_id: 'fill-1', status: 'pending' });
    const ended = await onB.completed(first.run_id);
    expect(ended.data).toMatchObject({ status: 'completed' });
    const runId = queued.body.run_id as string;
    const started = await onB.waitFor((m) => m.type === 'sequence_started' && (m.data as { run_id: string }).run_id === runId);
    expect(started.seq).toBeGreaterThan(ended.seq);
    expect((await onB.completed(runId)).data).toMatchObject({ status: 'completed' });
    expect((await call(a, 'GET', `/sequences/${runId}`)).body).toMatchObject({ status: 'completed', node: 'node-b' });
    onB.ws.close();
  });

  it('refuses a queued start on node B when the cluster already has 10 runs of the sequence waiting', async () => {
    const { a, b } = nodes;
    await a.start(soak('drain-1'));
    for (let i = 0; i < 10; i++) expect((await call(i % 2 ? a : b, 'POST', '/sequences', soak('drain-1', 'queued'))).status).toBe(202);
    const refused = await call(b, 'POST', '/sequences', soak('drain-1', 'queued'));
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 5610, message: "Sequence 'drain-1' has 10 runs queued (max 10)" } });
  });

  it('admits exactly one of two single starts sent to two nodes at the same moment', async () => {
    const { a, b } = nodes;
    const ids = Array.from({ length: 8 }, (_, i) => `race-${i}`);
    const answers = await Promise.all(ids.flatMap((id) => [call(a, 'POST', '/sequences', soak(id)), call(b, 'POST', '/sequences', soak(id))]));
    for (let i = 0; i < ids.length; i++) {
      expect([answers[2 * i]?.status, answers[2 * i + 1]?.status].sort()).toEqual([202, 409]);
    }
  });

  it("restarts on node B a sequence node A runs: A's run is cancelled and has ended before B's starts", async () => {
    const { a, b } = nodes;
    const onB = await connect(b.wsUrl());
    const old = await a.start(soak('flush-1'));
    const restarted = await call(b, 'POST', '/sequences', soak('flush-1', 'restart'));
    expect(restarted.status).toBe(202);
    const ended = await onB.completed(old.run_id);
    expect(ended.data).toMatchObject({ status: 'cancelled' });
    const started = await onB.waitFor((m) => m.type === 'sequence_started' && (m.data as { run_id: string }).run_id === restarted.body.run_id);
    expect(started.seq).toBeGreaterThan(ended.seq);
    expect((await call(a, 'GET', `/sequences/${old.run_id}`)).body).toMatchObject({ status: 'cancelled', error: 'Cancelled: restarted' });
    onB.ws.close();
  });
});
