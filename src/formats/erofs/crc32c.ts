/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven. `crc32cUpdate` returns
 * the raw register, without the final inversion of the standard CRC-32C: the EROFS superblock
 * checksum is that register after starting from 0xFFFFFFFF (the kernel's `crc32c(~0, …)`).
 */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32cUpdate(register: number, data: Uint8Array): number {
  let c = register >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/** The standard CRC-32C of `data` (as in RFC 3720). */
export function crc32c(data: Uint8Array): number {
  return ~crc32cUpdate(0xffffffff, data) >>> 0;
}
