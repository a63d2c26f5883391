import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../../src/events/event-types.ts';
import { call, twoNodesPerFile } from './cluster-harness.ts';
import { connect } from './ws-harness.ts';

const nodes = twoNodesPerFile();

const runOf = (event: EventEnvelope) => (event.data as { run_id?: string }).run_id;

describe('two nodes on one PostgreSQL', () => {
  it("reads, pauses, resumes, signals and cancels through node B a run node A drives, and B's stream carries A's events in order", async () => {
    const { a, b } = nodes;
    const onB = await connect(b.wsUrl());
    const { run_id } = await a.start({ sequence_id: 'greenhouse-1', steps: [{ name: 'soak', delay_seconds: 600 }] });
    await onB.waitFor((m) => m.type === 'sequence_step' && runOf(m) === run_id);

    const read = await call(b, 'GET', `/sequences/${run_id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ run_id, status: 'running', current_step_name: 'soak' });

    const paused = await call(b, 'POST', `/sequences/${run_id}/pause`, {});
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ run_id, status: 'paused' });
    expect((await a.services.engine.get(run_id))?.status).toBe('paused');
    const refused = await call(b, 'POST', `/sequences/${run_id}/pause`, {});
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 5619 } });

    expect((await call(b, 'POST', `/sequences/${run_id}/resume`, {})).body).toMatchObject({ status: 'running' });
    expect((await call(b, 'POST', `/sequences/${run_id}/signal`, { name: 'door_closed' })).body).toEqual({ success: true, run_id, name: 'door_closed' });
    const cancelled = await call(b, 'POST', `/sequences/${run_id}/cancel`, { reason: 'from node b' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ success: true, reason: 'from node b' });

    await onB.completed(run_id);
    const events = onB.of(run_id);
    expect(events[0]?.type).toBe('sequence_started');
    expect(events.at(-1)).toMatchObject({ type: 'sequence_completed', data: { status: 'cancelled' } });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['sequence_paused', 'sequence_resumed', 'sequence_signal', 'sequence_cancelled']));
    const seqs = onB.messages.map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i));

    // The same stream, with the same seqs, on the node that drove the run.
    const onA = await connect(a.wsUrl({ since: 0 }));
    await onA.completed(run_id);
    expect(onA.of(run_id)).toEqual(events);
    onA.ws.close();
    onB.ws.close();
  });

  it('says which node joined the cluster', async () => {
    const { b } = nodes;
    const client = await connect(b.wsUrl({ since: 0 }));
    const joined = await client.waitFor((m) => m.type === 'node_joined' && (m.data as { node_id: string }).node_id === 'node-b');
    expect(joined.data).toEqual({ node_id: 'node-b' });
    client.ws.close();
  });
});
