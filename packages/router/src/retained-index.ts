import type { Message } from './message.js';

interface RetainedNode<M> {
  children: Map<string, RetainedNode<M>> | undefined;
  message: M | undefined;
}

function newNode<M>(): RetainedNode<M> {
  return { children: undefined, message: undefined };
}

/**
 * Retained messages by topic name, in a trie of topic levels so a subscription's filter
 * (`+`, `#`) finds its retained messages without scanning every retained topic.
 */
export class RetainedIndex<M extends Message = Message> {
  private readonly root = newNode<M>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Stores, replaces or (with an empty payload) deletes the retained message of its topic.
   * Returns the message it replaced or deleted, if any.
   */
  set(message: M): M | undefined {
    if (message.payload.length === 0) return this.remove(message.topicName);
    let node = this.root;
    for (const level of message.topicName.split('/')) {
      node.children ??= new Map();
      let child = node.children.get(level);
      if (child === undefined) {
        child = newNode<M>();
        node.children.set(level, child);
      }
      node = child;
    }
    const previous = node.message;
    if (previous === undefined) this.count++;
    node.message = message;
    return previous;
  }

  get(topicName: string): M | undefined {
    let node: RetainedNode<M> | undefined = this.root;
    for (const level of topicName.split('/')) {
      node = node.children?.get(level);
      if (node === undefined) return undefined;
    }
    return node.message;
  }

  delete(topicName: string): boolean {
    return this.remove(topicName) !== undefined;
  }

  /** Deletes the retained message of `topicName`; returns it, if there was one. */
  private remove(topicName: string): M | undefined {
    const levels = topicName.split('/');
    const path: RetainedNode<M>[] = [this.root];
    let node: RetainedNode<M> | undefined = this.root;
    for (const level of levels) {
      node = node.children?.get(level);
      if (node === undefined) return undefined;
      path.push(node);
    }
    const removed = node.message;
    if (removed === undefined) return undefined;
    node.message = undefined;
    this.count--;
    // Prune empty nodes bottom-up so deleted topics leave nothing behind.
    for (let i = levels.length; i > 0; i--) {
      const current = path[i] as RetainedNode<M>;
      if (current.message !== undefined || (current.children !== undefined && current.children.size > 0))
        break;
      const parent = path[i - 1] as RetainedNode<M>;
      parent.children?.delete(levels[i - 1] as string);
    }
    return removed;
  }

  /** Every retained message whose topic matches `topicFilter` (no `$share/` prefix). */
  match(topicFilter: string): M[] {
    const out: M[] = [];
    this.walk(this.root, topicFilter.split('/'), 0, out);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<M> {
    const stack: RetainedNode<M>[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop() as RetainedNode<M>;
      if (node.message !== undefined) yield node.message;
      if (node.children !== undefined) for (const child of node.children.values()) stack.push(child);
    }
  }

  private walk(node: RetainedNode<M>, levels: string[], depth: number, out: M[]): void {
    if (depth === levels.length) {
      if (node.message !== undefined) out.push(node.message);
      return;
    }
    const level = levels[depth] as string;
    const children = node.children;
    if (level === '#') {
      // '#' also matches the parent level itself ("sport/#" matches "sport").
      if (node.message !== undefined && depth > 0) out.push(node.message);
      if (children !== undefined) this.collectAll(children, depth === 0, out);
      return;
    }
    if (children === undefined) return;
    if (level === '+') {
      for (const [name, child] of children) {
        // Wildcards at the first level never match topics starting with '$' [MQTT-4.7.2-1].
        if (depth === 0 && name.startsWith('$')) continue;
        this.walk(child, levels, depth + 1, out);
      }
      return;
    }
    const child = children.get(level);
    if (child !== undefined) this.walk(child, levels, depth + 1, out);
  }

  private collectAll(children: Map<string, RetainedNode<M>>, skipDollar: boolean, out: M[]): void {
    for (const [name, child] of children) {
      if (skipDollar && name.startsWith('$')) continue;
      if (child.message !== undefined) out.push(child.message);
      if (child.children !== undefined) this.collectAll(child.children, false, out);
    }
  }
}
