import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startInspector, type Inspector } from '../../src/events/inspector.ts';
import { actuatorRun, startTestServer, type TestServer } from './ws-harness.ts';

interface Inspection {
  type: string;
  sessionId: string;
  name?: string;
  parentId?: string;
  snapshot?: { status?: string; value?: unknown };
  event?: { type?: string };
}

/** A plain ws client on the relay that keeps every inspection event. */
class RelayViewer {
  readonly ws: WebSocket;
  readonly seen: Inspection[] = [];
  #wake = () => {};

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      this.seen.push(JSON.parse(data.toString()) as Inspection);
      this.#wake();
    });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  waitFor(match: (event: Inspection) => boolean): Promise<Inspection> {
    return new Promise((resolve) => {
      this.#wake = () => {
        const found = this.seen.find(match);
        if (found) resolve(found);
      };
      this.#wake();
    });
  }
}

let server: TestServer | null = null;
let inspector: Inspector | null = null;
const viewers: RelayViewer[] = [];

afterEach(async () => {
  for (const viewer of viewers.splice(0)) viewer.ws.terminate();
  await server?.close();
  await inspector?.close();
  server = null;
  inspector = null;
});

async function view(url: string): Promise<RelayViewer> {
  const viewer = new RelayViewer(url);
  viewers.push(viewer);
  await viewer.opened();
  return viewer;
}

describe('the Stately inspector relay (--inspect)', () => {
  it('shows the registry and each sequence actor of a run, with its snapshots to the final state', async () => {
    server = await startTestServer({ inspect: true }, { inspectPort: 0 });
    const relay = server.services.inspector;
    expect(relay?.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const viewer = await view(relay?.wsUrl as string);
    const registry = await viewer.waitFor((e) => e.type === '@xstate.actor' && e.name === 'registry');

    const { run_id } = await server.start(actuatorRun('inspected', 2));
    const actor = await viewer.waitFor((e) => e.type === '@xstate.actor' && e.name === run_id);
    expect(actor.parentId).toBe(registry.sessionId);
    await viewer.waitFor((e) => e.type === '@xstate.event' && e.sessionId === actor.sessionId && e.event?.type === 'START');
    const done = await viewer.waitFor((e) => e.type === '@xstate.snapshot' && e.sessionId === actor.sessionId && e.snapshot?.status === 'done');
    expect(done.snapshot?.value).toBe('completed');
  });

  it('gives a page opened later the live actors, and forgets finished ones', async () => {
    server = await startTestServer({ inspect: true }, { inspectPort: 0 });
    const relay = server.services.inspector as Inspector;
    const early = await view(relay.wsUrl);
    const paused = await server.start({ ...actuatorRun('paused-run', 1), steps: [{ name: 'wait', delay_seconds: 600 }] });
    const finished = await server.start(actuatorRun('finished-run', 1));
    await early.waitFor((e) => e.type === '@xstate.snapshot' && e.snapshot?.status === 'done');
    await early.waitFor((e) => e.type === '@xstate.snapshot' && JSON.stringify(e.snapshot?.value).includes('delaying'));

    const late = await view(relay.wsUrl);
    const registry = await late.waitFor((e) => e.type === '@xstate.actor' && e.name === 'registry');
    const live = await late.waitFor((e) => e.type === '@xstate.actor' && e.name === paused.run_id);
    const latest = await late.waitFor((e) => e.type === '@xstate.snapshot' && e.sessionId === live.sessionId);
    expect(JSON.stringify(latest.snapshot?.value)).toContain('delaying');
    expect(late.seen.some((e) => e.name === finished.run_id)).toBe(false);
    expect(late.seen[0]?.sessionId).toBe(registry.sessionId);
  });

  it('serves the page that embeds the Stately inspector and reports a taken port', async () => {
    inspector = await startInspector({ port: 0 });
    const page = await fetch(inspector.pageUrl);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<iframe id="inspector" src="https://stately.ai/inspect">');
    // A person on an offline installation is told why the page is blank and where to look instead.
    expect(html).toMatch(/loaded from https:\/\/stately\.ai\/inspect and needs internet/);
    expect(html).toMatch(/operator console at <code>\/<\/code>[\s\S]*needs no\s+internet/);
    expect(html).toContain("new WebSocket('ws://' + location.host)");
    expect((await fetch(`${inspector.pageUrl}favicon.ico`)).status).toBe(404);
    await expect(startInspector({ port: inspector.port })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+/);
    await inspector.close();
    await inspector.close();
  });

  it('relays what one client sends to the others, dropping what is not an inspection event', async () => {
    inspector = await startInspector({ port: 0, maxActors: 1 });
    const sender = await view(inspector.wsUrl);
    const receiver = await view(inspector.wsUrl);
    sender.ws.send('not json');
    sender.ws.send('{"no":"type"}');
    sender.ws.send(JSON.stringify({ type: '@xstate.actor', sessionId: 'a', name: 'a' }));
    sender.ws.send(JSON.stringify({ type: '@xstate.actor', sessionId: 'b', name: 'b' }));
    sender.ws.send(JSON.stringify({ type: '@xstate.snapshot', sessionId: 'x', snapshot: { status: 'active' } }));
    await receiver.waitFor((e) => e.sessionId === 'x');
    expect(receiver.seen.map((e) => e.sessionId)).toEqual(['a', 'b', 'x']);
    expect(sender.seen).toEqual([]);
    // With room for one actor, a late page gets the newest only.
    const late = await view(inspector.wsUrl);
    await late.waitFor((e) => e.sessionId === 'b');
    expect(late.seen.map((e) => e.sessionId)).toEqual(['b']);
  });
});
