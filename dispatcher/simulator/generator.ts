import { stream, uniform, type Random } from './rng.js';
import type { Trace } from './traces.js';

/**
 * A family of load traces, so that a policy is judged on many shapes and not
 * tuned to four. Each trace is a background of pieces laid end to end (ramps,
 * holds, waves, idle gaps, sparse stretches, often a sparse tail), with a few
 * bursts of random height and width on top. At x1 the background moves
 * between 5 and 300 req/s and bursts add 100 to 600 req/s: with 50 ms jobs and
 * 4 slots per worker (about 80 req/s per worker), from 1 to about 12 workers.
 * Pure: the same seed gives the same trace.
 */

export type BackgroundKind = 'ramp' | 'hold' | 'wave' | 'idle' | 'sparse';
export type PieceKind = BackgroundKind | 'burst';

export interface Piece {
  kind: PieceKind;
  startMs: number;
  endMs: number;
  /** Rate at the start and end (ramp), the level (hold, sparse, wave's mean) or the height added (burst); at x1. */
  from: number;
  to: number;
  /** Waves: amplitude and period. Long bursts: time to rise and to fall. */
  amplitude?: number;
  periodMs?: number;
  edgeMs?: number;
}

export interface GeneratedTrace extends Trace {
  seed: number;
  scale: number;
  /** What the trace is made of, at x1: background pieces in order, then bursts. */
  pieces: Piece[];
}

export interface GeneratorOptions {
  /** Every rate is multiplied by this (default 1). */
  scale?: number;
  /** Fixed length; by default 180 to 240 s, drawn from the seed. */
  durationMs?: number;
}

const LEVEL_LOW = 5;
const LEVEL_HIGH = 300;
const BURST_LOW = 100;
const BURST_HIGH = 600;

/** Background kinds with their odds; a sparse tail is decided on its own. */
const BACKGROUND_ODDS: [BackgroundKind, number][] = [
  ['ramp', 0.3],
  ['hold', 0.2],
  ['wave', 0.25],
  ['idle', 0.12],
  ['sparse', 0.13],
];

export function generateTrace(seed: number, options: GeneratorOptions = {}): GeneratedTrace {
  const random = stream(seed, 100);
  const scale = options.scale ?? 1;
  const durationMs = options.durationMs ?? Math.round(uniform(random, 180, 240)) * 1000;
  const background = backgroundPieces(random, durationMs);
  const bursts = burstPieces(random, durationMs);
  const peakBackground = Math.max(...background.map(pieceMax));
  const peakBurst = Math.max(0, ...bursts.map((b) => b.from));
  const rateAt = compile(background, bursts);
  return {
    name: `gen-${seed}`,
    seed,
    scale,
    durationMs,
    // Bursts never overlap each other, so this bounds the sum.
    maxRate: (peakBackground + peakBurst) * scale,
    rate: scale === 1 ? rateAt : (t) => rateAt(t) * scale,
    pieces: [...background, ...bursts],
  };
}

function backgroundPieces(random: Random, durationMs: number): Piece[] {
  const pieces: Piece[] = [];
  // Half the traces end on a sparse tail: does the pool come back down to its floor?
  const tailMs = random() < 0.5 ? seconds(random, 20, 50) : 0;
  const bodyEnd = durationMs - tailMs;
  let level = logUniform(random, LEVEL_LOW, LEVEL_HIGH);
  // Every trace opens with a ramp from a trickle: the pool starts at its floor, and a
  // trace that opened at full load would be missed by any policy, even the oracle.
  const opening: Piece = { kind: 'ramp', startMs: 0, endMs: Math.min(seconds(random, 5, 30), bodyEnd), from: uniform(random, 1, 10), to: level };
  pieces.push(opening);
  let at = opening.endMs;
  while (at < bodyEnd) {
    const kind = pick(random, BACKGROUND_ODDS);
    const piece = backgroundPiece(random, kind, at, level);
    piece.endMs = Math.min(piece.endMs, bodyEnd);
    if (kind === 'ramp') level = piece.to;
    pieces.push(piece);
    at = piece.endMs;
  }
  if (tailMs > 0) {
    const rate = uniform(random, 0.2, 2);
    pieces.push({ kind: 'sparse', startMs: bodyEnd, endMs: durationMs, from: rate, to: rate });
  }
  return pieces;
}

function backgroundPiece(random: Random, kind: BackgroundKind, startMs: number, level: number): Piece {
  switch (kind) {
    case 'ramp':
      return { kind, startMs, endMs: startMs + seconds(random, 10, 60), from: level, to: logUniform(random, LEVEL_LOW, LEVEL_HIGH) };
    case 'hold':
      return { kind, startMs, endMs: startMs + seconds(random, 10, 40), from: level, to: level };
    case 'wave':
      return {
        kind,
        startMs,
        endMs: startMs + seconds(random, 30, 90),
        from: level,
        to: level,
        amplitude: level * uniform(random, 0.3, 0.9),
        periodMs: seconds(random, 10, 60),
      };
    case 'idle':
      return { kind, startMs, endMs: startMs + seconds(random, 5, 30), from: 0, to: 0 };
    case 'sparse': {
      const rate = uniform(random, 0.2, 2);
      return { kind, startMs, endMs: startMs + seconds(random, 10, 40), from: rate, to: rate };
    }
  }
}

/** 1 to 4 bursts that do not overlap; about 60 % short (1-10 s, sharp edges), the others long (15-40 s, ramped edges). */
function burstPieces(random: Random, durationMs: number): Piece[] {
  const count = 1 + Math.floor(random() * 4);
  const bursts: Piece[] = [];
  for (let i = 0; i < count; i++) {
    const short = random() < 0.6;
    const widthMs = short ? seconds(random, 1, 10) : seconds(random, 15, 40);
    const height = logUniform(random, BURST_LOW, BURST_HIGH);
    const edgeMs = short ? 0 : seconds(random, 2, 5);
    if (durationMs - widthMs < 10_000) continue; // no room in a very short trace
    // A few tries to find a free place; a burst that finds none is left out.
    for (let attempt = 0; attempt < 10; attempt++) {
      const startMs = Math.round(uniform(random, 5_000, durationMs - widthMs - 5_000) / 100) * 100;
      const endMs = startMs + widthMs;
      if (bursts.some((b) => startMs < b.endMs + 2_000 && b.startMs < endMs + 2_000)) continue;
      bursts.push({ kind: 'burst', startMs, endMs, from: height, to: height, edgeMs });
      break;
    }
  }
  return bursts.sort((a, b) => a.startMs - b.startMs);
}

/** The rate function: the background piece at t (binary search) plus the burst over t, if any. */
function compile(background: Piece[], bursts: Piece[]): (tMs: number) => number {
  const starts = background.map((p) => p.startMs);
  return (t) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= t) low = mid;
      else high = mid - 1;
    }
    let rate = backgroundRate(background[low]!, t);
    for (const burst of bursts) if (t >= burst.startMs && t < burst.endMs) rate += burstRate(burst, t);
    return rate;
  };
}

function backgroundRate(p: Piece, t: number): number {
  switch (p.kind) {
    case 'ramp':
      return p.from + ((p.to - p.from) * Math.min(1, Math.max(0, (t - p.startMs) / (p.endMs - p.startMs))));
    case 'wave':
      return p.from + p.amplitude! * Math.sin((2 * Math.PI * (t - p.startMs)) / p.periodMs!);
    default:
      return p.from;
  }
}

function burstRate(p: Piece, t: number): number {
  const edge = p.edgeMs ?? 0;
  if (edge <= 0) return p.from;
  return p.from * Math.min(1, (t - p.startMs) / edge, (p.endMs - t) / edge);
}

/** The most a piece's rate reaches (x1). */
function pieceMax(p: Piece): number {
  return p.kind === 'wave' ? p.from + p.amplitude! : Math.max(p.from, p.to);
}

/** A whole number of seconds in [low, high], in ms. */
function seconds(random: Random, low: number, high: number): number {
  return Math.round(uniform(random, low, high)) * 1000;
}

/** Spread evenly over orders of magnitude, so that low rates are as common as high ones. */
function logUniform(random: Random, low: number, high: number): number {
  return Math.exp(uniform(random, Math.log(low), Math.log(high)));
}

function pick<T>(random: Random, odds: [T, number][]): T {
  const total = odds.reduce((sum, [, w]) => sum + w, 0);
  let u = random() * total;
  for (const [value, weight] of odds) {
    if ((u -= weight) < 0) return value;
  }
  return odds[odds.length - 1]![0];
}
