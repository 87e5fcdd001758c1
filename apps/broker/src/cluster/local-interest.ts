/**
 * The topic filters this node's sessions subscribe to, as other nodes need them; a shared one as
 * written (`$share/g/a/#`: the others balance that group's messages over the nodes with members).
 * Fed by the router's `FanOutHook.filterAdded` / `filterRemoved`; `version` grows with every
 * change.
 */
export class LocalInterest {
  private readonly counts = new Map<string, number>();
  private changes = 0;

  /** `versionBase`: a node restarted under the same id must announce versions above its old ones. */
  constructor(
    private readonly versionBase: number,
    private readonly onChange: () => void = () => {},
  ) {}

  get version(): number {
    return this.versionBase + this.changes;
  }

  add(topicFilter: string): void {
    const filter = topicFilter;
    const count = this.counts.get(filter) ?? 0;
    this.counts.set(filter, count + 1);
    if (count === 0) this.changed();
  }

  remove(topicFilter: string): void {
    const filter = topicFilter;
    const count = this.counts.get(filter);
    if (count === undefined) return;
    if (count > 1) {
      this.counts.set(filter, count - 1);
      return;
    }
    this.counts.delete(filter);
    this.changed();
  }

  /** The filters, sorted (stable announcements and rows). */
  filters(): string[] {
    return [...this.counts.keys()].sort();
  }

  private changed(): void {
    this.changes++;
    this.onChange();
  }
}
