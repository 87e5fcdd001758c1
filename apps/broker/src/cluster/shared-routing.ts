import type { Message } from '@mqtt-adapt/router';
import type { RemoteInterest } from './remote-interest.js';

/**
 * Which node serves each share group of one message: picked once per message among the nodes
 * with members of the group (this one included, in turns; `RemoteInterest.pickShared`). The
 * router asks `here` for the groups with a member online on this node; `elsewhere`, after local
 * delivery, gives the other nodes their groups, and moves a group picked for this node that the
 * router never asked about (no member online here) to another node of the group.
 */
export class SharedRouting {
  /** `[sharedFilter, nodeId]` picked for `pickedFor`. */
  private readonly picks: Array<[string, string]> = [];
  /** The share filters the router asked about for that message. */
  private readonly asked: string[] = [];
  private pickedFor: Message | undefined;

  constructor(
    private readonly remote: RemoteInterest,
    private readonly nodeId: string,
  ) {}

  /** `FanOutHook.sharedHere`. */
  here(sharedFilter: string, message: Message): boolean {
    this.pick(message);
    this.asked.push(sharedFilter);
    for (const [filter, nodeId] of this.picks) if (filter === sharedFilter) return nodeId === this.nodeId;
    return true;
  }

  /** The other nodes picked for share groups of `message`, with their groups; the picks are then forgotten. */
  elsewhere(message: Message): Map<string, string[]> | undefined {
    this.pick(message);
    this.pickedFor = undefined;
    let elsewhere: Map<string, string[]> | undefined;
    for (const [filter, picked] of this.picks) {
      let nodeId: string | undefined = picked;
      // Picked here, but the router did not ask: no member of the group is online here.
      if (nodeId === this.nodeId && !this.asked.includes(filter))
        nodeId = this.remote.otherSharedNode(filter, this.nodeId);
      if (nodeId === undefined || nodeId === this.nodeId) continue;
      elsewhere ??= new Map();
      const filters = elsewhere.get(nodeId);
      if (filters === undefined) elsewhere.set(nodeId, [filter]);
      else filters.push(filter);
    }
    this.picks.length = 0;
    this.asked.length = 0;
    return elsewhere;
  }

  /** The node whose member of `sharedFilter` gets `topicName` now (a re-send). */
  target(topicName: string, sharedFilter: string): string | undefined {
    const picks: Array<[string, string]> = [];
    this.remote.pickShared(topicName, picks);
    return picks.find(([filter]) => filter === sharedFilter)?.[1];
  }

  private pick(message: Message): void {
    if (this.pickedFor === message) return;
    this.pickedFor = message;
    this.asked.length = 0;
    this.remote.pickShared(message.topicName, this.picks);
  }
}
