import type { KernelName } from './kernels/kernel.js';
import type { KernelTrial } from './choose-kernel.js';
import type { PromotionPlan } from './promotion-plan.js';

/** What `batch-score` was asked to do. */
export interface BatchOptions {
  bundle: string;
  /** A file of user ids, one per line; undefined with `all`. */
  usersFile?: string;
  all: boolean;
  k: number;
  out: string;
  propensity: boolean;
  segments: boolean;
  backend: 'auto' | KernelName;
  workers: number;
  /** Users per task; 'auto' sizes the block's score matrix to ~25 MB (see blockSizeFor). */
  blockSize: number | 'auto';
  resume: boolean;
  force: boolean;
  excludeSeen: boolean;
  /** Leave out unavailable items (the default, as in `recommend`). */
  availableOnly: boolean;
  /**
   * Choose each user's promotion (`--promotions`): the plan, given the number of segments the bundle
   * has (the counts are read per segment from the store when the job starts).
   */
  promotions?: (segments: number) => Promise<PromotionPlan>;
}

/** What a batch job did, for the CLI's summary and the benchmarks. */
export interface BatchSummary {
  out: string;
  bundle: string;
  users: number;
  resumedFrom: number;
  /** Items scored for every user (the available ones unless told otherwise). */
  items: number;
  dims: number;
  k: number;
  backend: KernelName;
  backendTrials?: KernelTrial[];
  /** Where the kernel ran, when not on the workers' CPU (the WebGPU adapter). */
  device?: string;
  workers: number;
  coldStart: number;
  /** Ids in --users the bundle does not know (scored as cold start). */
  unknownUsers: number;
  /** Lines of --users repeating an earlier id. */
  repeatedUsers: number;
  /** Scoring time, from warm workers to the last block on disk (what users/s and GFLOP/s use). */
  seconds: number;
  /** Everything, including reading the bundle, choosing a backend and starting workers. */
  wallSeconds: number;
  usersPerSecond: number;
  /** 2 · users · items · dims over the wall time of the scoring. */
  gflops: number;
  bytes: number;
}
