/**
 * Fair reading between clients. libuv reads a socket up to 32 times (2 MiB at Node's 64 KiB
 * reads) before it looks at the next one, and the broker handles every chunk as it arrives:
 * one client flooding PUBLISH packets could hold the event loop for tens of milliseconds per
 * turn while every other client's PINGREQ waits. So a socket read `INPUT_BUDGET_BYTES` in a row
 * (with no other socket's input between) stops being read until the next check phase
 * (`setImmediate`), after the other ready sockets had their turn.
 *
 * No field per connection: the reads of one socket within a poll turn are consecutive, so one
 * "current socket" and its byte count, module-wide, tell how much it was read in a row.
 */

/** Bytes read from one socket in a row before it yields: one full read of Node's (64 KiB). */
export const INPUT_BUDGET_BYTES = 64 * 1024;

/** A transport whose input can be stopped for a turn. */
export interface YieldingInput {
  /** Stop reading until `resumeInput`. */
  yieldInput(): void;
  /** Read again, unless something else (the router, closing) still holds the input. */
  resumeInput(): void;
}

let current: YieldingInput | undefined;
let bytesInRow = 0;
const yielded: YieldingInput[] = [];

/**
 * Counts `bytes` just handled from `input`'s socket; past the budget, the socket yields until
 * the next check phase. Call it after the chunk was handled.
 */
export function chargeInput(input: YieldingInput, bytes: number): void {
  if (input !== current) {
    current = input;
    bytesInRow = 0;
  }
  bytesInRow += bytes;
  if (bytesInRow < INPUT_BUDGET_BYTES) return;
  current = undefined;
  bytesInRow = 0;
  input.yieldInput();
  if (yielded.push(input) === 1) setImmediate(resumeYielded);
}

function resumeYielded(): void {
  // A socket resumed here may be read (and yield again) in the next poll phase, never in this
  // loop: the list is emptied first.
  const resumed = yielded.splice(0);
  current = undefined;
  for (let i = 0; i < resumed.length; i++) resumed[i]!.resumeInput();
}
