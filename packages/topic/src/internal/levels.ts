/** What starts a shared subscription's filter (MQTT 5 §4.8.2). */
export const SHARE_PREFIX = '$share/';

/**
 * UTF-8 length of a JS string, as `Buffer.byteLength` counts it (a lone surrogate is 3
 * bytes, as its U+FFFD replacement), without depending on `Buffer`.
 */
export function utf8ByteLength(s: string): number {
  const length = s.length;
  let bytes = length;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2; // a pair: 2 units, 4 bytes
        i++;
      } else {
        bytes += 2;
      }
    } else {
      bytes += 2;
    }
  }
  return bytes;
}
