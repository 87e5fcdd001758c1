/**
 * Children of a node with many of them: an open-addressing hash table (linear probing, load
 * at most 1/2) keyed by a hash of the level, looked up straight from a range of the topic.
 *
 * Why not a Map: `Map.get` needs the level as a string, so every lookup sliced a new string
 * out of the topic (garbage, and V8 hashes it again). Here the hash is computed over the
 * topic's characters in place, and hash and child sit side by side in one array, so a probe
 * reads one cache line and touches the child's level string only when the hashes agree.
 */
export interface Named {
  readonly level: string;
  /** `levelHash(level, 0, level.length)`, kept so resizing never rehashes. */
  readonly levelHash: number;
}

export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;

/**
 * FNV-1a over the UTF-16 units of `s[start..end)`, as a signed 32-bit integer (a Smi: stored
 * unboxed). `Matcher` computes the same hash inline while it scans a topic.
 */
export function levelHash(s: string, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ s.charCodeAt(i), FNV_PRIME);
  return hash;
}

const MIN_CAPACITY = 16;

export class ChildTable<N extends Named> {
  /** `[hash0, child0, hash1, child1, ...]`; a slot is empty when its child is undefined. */
  private slots: (number | N | undefined)[];
  private mask: number;
  size = 0;

  constructor(capacity = MIN_CAPACITY) {
    this.slots = new Array<number | N | undefined>(capacity * 2).fill(undefined);
    this.mask = capacity - 1;
  }

  /** The child named `topic[start..end)`, whose `levelHash` is `hash`. */
  find(topic: string, start: number, end: number, hash: number): N | undefined {
    const slots = this.slots;
    const mask = this.mask;
    const length = end - start;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const child = slots[2 * i + 1] as N | undefined;
      if (child === undefined) return undefined;
      if (slots[2 * i] === hash) {
        const level = child.level;
        if (level.length === length && topic.startsWith(level, start)) return child;
      }
    }
  }

  get(level: string): N | undefined {
    return this.find(level, 0, level.length, levelHash(level, 0, level.length));
  }

  /** Adds a child whose level is known to be absent. */
  add(child: N): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    this.place(child, child.levelHash);
    this.size++;
  }

  /** Removes the child with this level; backward-shift deletion keeps probe chains whole. */
  delete(level: string): boolean {
    const slots = this.slots;
    const mask = this.mask;
    let i = this.indexOf(level);
    if (i === -1) return false;
    for (let j = (i + 1) & mask; slots[2 * j + 1] !== undefined; j = (j + 1) & mask) {
      const home = (slots[2 * j] as number) & mask;
      // move j back to the hole at i unless its home lies cyclically in (i, j]
      const homeBetween = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!homeBetween) {
        slots[2 * i] = slots[2 * j];
        slots[2 * i + 1] = slots[2 * j + 1];
        i = j;
      }
    }
    slots[2 * i] = undefined;
    slots[2 * i + 1] = undefined;
    this.size--;
    if (this.size * 8 < this.mask + 1 && this.mask + 1 > MIN_CAPACITY) this.resize((this.mask + 1) / 2);
    return true;
  }

  /** Every child, in table order (for conversions and iteration; allocates). */
  values(): N[] {
    const result: N[] = [];
    for (let i = 1; i < this.slots.length; i += 2) {
      const child = this.slots[i] as N | undefined;
      if (child !== undefined) result.push(child);
    }
    return result;
  }

  private indexOf(level: string): number {
    const hash = levelHash(level, 0, level.length);
    const slots = this.slots;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const child = slots[2 * i + 1] as N | undefined;
      if (child === undefined) return -1;
      if (child.level === level) return i;
    }
  }

  private place(child: N, hash: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let i = hash & mask;
    while (slots[2 * i + 1] !== undefined) i = (i + 1) & mask;
    slots[2 * i] = hash;
    slots[2 * i + 1] = child;
  }

  private resize(capacity: number): void {
    const children = this.values();
    this.slots = new Array<number | N | undefined>(capacity * 2).fill(undefined);
    this.mask = capacity - 1;
    for (const child of children) this.place(child, child.levelHash);
  }
}
