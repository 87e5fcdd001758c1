import { describe, expect, it } from 'vitest';
import { isCodecError, MalformedPacketError } from '../src/index.js';

describe('errors', () => {
  it('identifies codec errors by name and code', () => {
    const error = new MalformedPacketError('CODEC_INVALID_QOS', 0x81, 'publish qos 3 is invalid', 3);
    expect(isCodecError(error)).toBe(true);
    expect(error.reasonCode).toBe(0x81);
    expect(isCodecError(new Error('x'))).toBe(false);
  });
});
