import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SubscriptionTrie } from '../src/index.js';
import { filterArb, qosArb, subscriberArb, topicArb } from './arbitraries.js';
import { referenceMatches, referenceShare } from './reference.js';

/** The model: (filter, subscriber) -> qos. */
type Model = Map<string, number>;
type Real = SubscriptionTrie<string>;

const key = (filter: string, subscriber: string) => `${filter}\u0000${subscriber}`;

class AddCommand implements fc.Command<Model, Real> {
  constructor(
    readonly filter: string,
    readonly subscriber: string,
    readonly qos: 0 | 1 | 2,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const isNew = !model.has(key(this.filter, this.subscriber));
    expect(real.add(this.filter, this.subscriber, { qos: this.qos })).toBe(isNew);
    model.set(key(this.filter, this.subscriber), this.qos);
    expect(real.size).toBe(model.size);
  }
  toString(): string {
    return `add(${JSON.stringify(this.filter)}, ${this.subscriber}, ${this.qos})`;
  }
}

class RemoveCommand implements fc.Command<Model, Real> {
  constructor(
    readonly filter: string,
    readonly subscriber: string,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const existed = model.delete(key(this.filter, this.subscriber));
    expect(real.remove(this.filter, this.subscriber)).toBe(existed);
    expect(real.size).toBe(model.size);
    expect(real.get(this.filter, this.subscriber)).toBeUndefined();
  }
  toString(): string {
    return `remove(${JSON.stringify(this.filter)}, ${this.subscriber})`;
  }
}

/** Removes one existing subscription, so removals hit as often as they miss. */
class RemoveExistingCommand implements fc.Command<Model, Real> {
  constructor(readonly pick: number) {}
  check(model: Readonly<Model>): boolean {
    return model.size > 0;
  }
  run(model: Model, real: Real): void {
    const entry = [...model.keys()][this.pick % model.size]!;
    const [filter, subscriber] = entry.split('\u0000') as [string, string];
    new RemoveCommand(filter, subscriber).run(model, real);
  }
  toString(): string {
    return `removeExisting(${this.pick})`;
  }
}

class MatchCommand implements fc.Command<Model, Real> {
  constructor(readonly topic: string) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const plain: string[] = [];
    const groups = new Set<string>();
    for (const [k, qos] of model) {
      const [topicFilter, subscriber] = k.split('\u0000') as [string, string];
      const { group, filter } = referenceShare(topicFilter);
      if (!referenceMatches(filter, this.topic)) continue;
      if (group === undefined) plain.push(`${subscriber} ${topicFilter} q${qos}`);
      else groups.add(topicFilter);
    }
    const got = real.match(this.topic);
    expect(
      got
        .filter((s) => s.shareGroup === undefined)
        .map((s) => `${s.subscriber} ${s.topicFilter} q${s.options.qos}`)
        .sort(),
    ).toEqual(plain.sort());
    const shared = got.filter((s) => s.shareGroup !== undefined);
    expect(shared.map((s) => s.topicFilter).sort()).toEqual([...groups].sort());
    for (const s of shared) expect(model.get(key(s.topicFilter, s.subscriber))).toBe(s.options.qos);
  }
  toString(): string {
    return `match(${JSON.stringify(this.topic)})`;
  }
}

const commands = [
  fc
    .tuple(filterArb, subscriberArb, qosArb)
    .map(([filter, subscriber, qos]) => new AddCommand(filter, subscriber, qos)),
  fc.tuple(filterArb, subscriberArb).map(([filter, subscriber]) => new RemoveCommand(filter, subscriber)),
  fc.nat().map((pick) => new RemoveExistingCommand(pick)),
  topicArb.map((topic) => new MatchCommand(topic)),
];

describe('SubscriptionTrie model-based', () => {
  it('follows add/remove/match sequences and shrinks back to empty', () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 80, size: 'large' }), (cmds) => {
        const model: Model = new Map();
        const real: Real = new SubscriptionTrie<string>();
        fc.modelRun(() => ({ model, real }), cmds);
        // everything removed, in an arbitrary order: nothing may be left behind
        for (const k of [...model.keys()]) {
          const [filter, subscriber] = k.split('\u0000') as [string, string];
          expect(real.remove(filter, subscriber)).toBe(true);
        }
        expect(real.size).toBe(0);
        expect(real.experimental_nodeCount).toBe(0);
        expect([...real.subscriptions()]).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps many subscribers of one filter right through the indexed list', () => {
    const many = fc.constantFrom(...Array.from({ length: 40 }, (_, i) => `s${i}`));
    const add = fc
      .tuple(fc.constantFrom('t/+', 't/#'), many, qosArb)
      .map(([f, s, q]) => new AddCommand(f, s, q));
    // adds outweigh removals so the lists grow past the index threshold (16) and shrink back
    const bigCommands = [
      add,
      add,
      add,
      fc.tuple(fc.constantFrom('t/+', 't/#'), many).map(([f, s]) => new RemoveCommand(f, s)),
      fc.nat().map((pick) => new RemoveExistingCommand(pick)),
      fc.constantFrom('t/x', 't').map((topic) => new MatchCommand(topic)),
    ];
    fc.assert(
      fc.property(fc.commands(bigCommands, { maxCommands: 300, size: 'max' }), (cmds) => {
        const model: Model = new Map();
        const real: Real = new SubscriptionTrie<string>();
        fc.modelRun(() => ({ model, real }), cmds);
        real.clear();
        expect(real.experimental_nodeCount).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});
