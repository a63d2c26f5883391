/**
 * The engine's options, limits and the shapes its public methods answer with.
 */
import type { InspectionEvent, Observer } from 'xstate';
import type { Reading, ReadingLookup } from '../conditions/evaluate-condition.ts';
import type { PausedOutput, SequenceContext } from '../../machines/sequence.types.ts';
import { DEFAULT_LIMITS, type DefinitionLimits, type SequenceDefinition } from '../domain/definition.schema.ts';
import type { Progress, RunContext } from '../domain/progress.ts';
import type { TemplateResolver } from '../domain/validate-definition.ts';
import type { ExecutorRegistry } from '../executors/executor.ts';
import type { LeaseTimes } from '../cluster/lease-keeper.ts';
import type { RunStore } from '../store/run-store.ts';
import type { Run } from './run.ts';

/** Engine limits; every field has the SPEC 3 default. */
export interface EngineLimits extends DefinitionLimits {
  /** Runs at once (default 1000). */
  maxConcurrent: number;
  /** How often the history is pruned (default 300 s). */
  sweepIntervalMs: number;
  /** Runs waiting in `queued` mode per sequence_id (default 10). */
  maxQueued: number;
}

/** The defaults of SPEC 3. */
export const DEFAULT_ENGINE_LIMITS: EngineLimits = {
  ...DEFAULT_LIMITS,
  maxConcurrent: 1000,
  sweepIntervalMs: 300_000,
  maxQueued: 10,
};

/**
 * What a pause with `outputs: "off"` asks of the safety system (SPEC 7). Without one, a run holds
 * nothing to turn off.
 */
export interface RunOutputs {
  /** The actuators a run holds now, as their last commands left them. */
  held(runId: string): PausedOutput[];
  /** Turns them OFF, leases kept; rejects (5643) naming those not confirmed OFF. */
  turnOff(runId: string, outputs: readonly PausedOutput[]): Promise<void>;
  /** Turns them back as they were through the safety system; rejects with the code that refused one. */
  restore(runId: string, priority: number, outputs: readonly PausedOutput[], timeoutMs: number): Promise<void>;
}

/** Options of the engine, resolved once. */
export interface EngineOptions {
  /** Executors of the action types (the engine adds `sequence` and a default safe state). */
  executors: ExecutorRegistry;
  limits?: Partial<EngineLimits>;
  /**
   * Where runs are persisted. Default: an in-memory SQLite store of the engine's own (closed with
   * it), which keeps the history the queries read (no journal: nothing recovers from it; about the
   * newest `historyRuns` ended runs); nothing waits for its commits.
   */
  store?: RunStore | null;
  /** With no `store`: about how many ended runs its own store keeps in the history (the newest). Default 10,000. */
  historyRuns?: number;
  /**
   * The latest sensor readings (SPEC 9.1) conditions read, and their stream: a reading wakes the
   * runs waiting on its sensor. Default: no sensors (every sensor condition is unknown).
   */
  sensors?: ReadingLookup & { onReading(listener: (reading: Reading) => void): () => void };
  /** Fills templates named by nested `sequence` actions. */
  templates?: TemplateResolver;
  /**
   * Admits a start or throws the SequencerError that refuses it (rate limit 5641, emergency stop
   * 5642). Asked only once nothing else refuses the start (409), so a refused start takes no token.
   */
  admitStart?: () => void;
  /**
   * A run ended without its cleanup steps: its actor crashed (a defect), or it could not be
   * recovered after a restart (too many to resume, its snapshot unusable). Its actuators are made
   * safe here.
   */
  onRunCrashed?: (run: Run) => void;
  /** A top-level run ended (leases are released here). */
  onRunEnded?: (run: Run) => void;
  /** A terminal run left memory: its history row is committed, the store answers for it. */
  onRunDropped?: (runId: string) => void;
  /** The periodic sweep ran (the store prunes its history here). */
  onSweep?: (now: number) => void;
  /** A run was restored from the store after a restart (before its actor starts): rebuild what it held. */
  onRunRecovered?: (run: Run, context: SequenceContext) => void;
  /** The outputs of runs paused with `outputs: "off"` (the safety system). */
  outputs?: RunOutputs;
  /** Extra inspection observer (the Stately inspector). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Reports internal errors (a failed write, a listener that threw). */
  onError?: (error: unknown, message: string) => void;
  /**
   * Lease renewal on a store shared by several nodes (default SPEC 14: every 2 s; stop driving 3 s
   * before the lease of the store's length would end).
   */
  renewal?: Partial<Omit<LeaseTimes, 'leaseMs'>>;
  /** The monotonic clock of the lease validity (default `performance.now`; tests give their own). */
  monotonicNow?: () => number;
  /**
   * Several nodes share the store (SPEC 14): the store logs each turn's events with its commit,
   * and control calls and reads of unfinished runs another node drives go to that node.
   */
  cluster?: RemoteRuns;
}

/** A control call that can travel to the node driving a run. */
export type RemoteControl = 'cancel' | 'pause' | 'resume' | 'signal';

/** The other nodes of a cluster, as the engine reaches them (see `cluster/cluster-node.ts`). */
export interface RemoteRuns {
  /**
   * Executes a control call on the node that drives the unfinished run `runId`; resolves with its
   * answer (or rejects with its error), or with null when no other node drives the run.
   */
  control(runId: string, kind: RemoteControl, body: Record<string, unknown>): Promise<{ answer: unknown } | null>;
  /** The progress of the unfinished run `runId` from the node that drives it; null when none answers. */
  progress(runId: string): Promise<Progress | null>;
  /**
   * Runs `start` (this node's admission) once the start modes allow it across the nodes, giving it
   * the runs the other nodes are running (the concurrency limit is the cluster's); rejects with what refuses it.
   */
  admit(definition: SequenceDefinition, start: (runningElsewhere: number, waitingFor?: QueuedElsewhere) => StartResult): Promise<StartResult>;
}

/** Other nodes' unfinished runs of the sequence a `queued` start names (SPEC 14): it waits behind them. */
export interface QueuedElsewhere {
  /** Their runs of it that have not ended, queued ones included. */
  unfinished: number;
  /** Their runs of it waiting in a queue: they count toward the limit of queued runs. */
  pending: number;
}

/** What a start returns (SPEC 7). */
export interface StartResult {
  success: true;
  sequence_id: string;
  run_id: string;
  total_steps: number;
  status: 'running' | 'pending';
}

/** Who started a run and from which template. */
export interface StartOptions {
  context?: Partial<RunContext>;
  template?: { name: string; version: number };
  /** A redrive (SPEC 7): the run it runs again, and the step it begins at. */
  redrive?: Redrive;
  /**
   * The definition as its client sent it, without the defaults validation filled in: what the
   * run's history keeps (a third of the size) and a redrive validates again. Default: the
   * validated definition.
   */
  sent?: unknown;
}

/** What a redriven run runs again: the run it redrives and the step it begins at. */
export interface Redrive {
  of: string;
  from_step: number;
}

/** Aggregates of `GET /sequences/stats`. */
export interface EngineStats {
  total_sequences: number;
  running: number;
  completed_last_hour: number;
  failed_last_hour: number;
  average_duration_seconds: number | null;
  longest_sequence_id: string | null;
  most_common_failure_step: string | null;
}

/** A history page with the counts `GET /sequences` shows. */
export interface EnginePage {
  items: Progress[];
  total: number;
  running: number;
  completed: number;
  failed: number;
}
