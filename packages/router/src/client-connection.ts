/**
 * What the app holds per accepted transport: it forwards the transport's events here.
 * Returned by `Broker.accept()`.
 */
export interface ClientConnection {
  /** Bytes from the peer (a socket `data` chunk). Never throws for bad input. */
  feed(chunk: Buffer): void;
  /** The transport's output buffer went back below its high-water mark (socket `drain`). */
  drained(): void;
  /** The transport closed or failed; the router cleans up and publishes the will if due. */
  transportClosed(error?: Error): void;
}
