// QR codes drawn in the page, with no library and no CDN: an invite link as a QR code a
// learner scans with a phone. Byte mode, error correction level M (a screen is read
// cleanly), the smallest version that holds the text, versions 1-40 (ISO/IEC 18004).
// Checked by decoding what it draws with zbar (tests/browser/unit.test.js, invite.test.js).

// Per version 1..40, level M: error-correction codewords per block, and blocks.
const ECC_PER_BLOCK = [10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
  26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28];
const BLOCKS = [1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21,
  23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49];
const FORMAT_M = 0b00; // level M's two format bits

/** Codewords a version holds in all (data and error correction). */
function rawCodewords(v) {
  let modules = (16 * v + 128) * v + 64;
  if (v >= 2) {
    const n = Math.floor(v / 7) + 2;
    modules -= (25 * n - 10) * n - 55;
    if (v >= 7) modules -= 36;
  }
  return Math.floor(modules / 8);
}

const dataCodewords = (v) => rawCodewords(v) - ECC_PER_BLOCK[v - 1] * BLOCKS[v - 1];

// GF(256) with the polynomial x^8 + x^4 + x^3 + x^2 + 1.
function gfMul(a, b) {
  let r = 0;
  for (let i = 7; i >= 0; i--) {
    r = (r << 1) ^ ((r >>> 7) * 0x11d);
    r ^= ((b >>> i) & 1) * a;
  }
  return r & 0xff;
}

/** The Reed-Solomon generator of `degree`, highest term first (without its leading 1). */
function rsGenerator(degree) {
  const g = new Array(degree).fill(0);
  g[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      g[j] = gfMul(g[j], root);
      if (j + 1 < degree) g[j] ^= g[j + 1];
    }
    root = gfMul(root, 0x02);
  }
  return g;
}

function rsRemainder(data, gen) {
  const r = new Array(gen.length).fill(0);
  for (const b of data) {
    const factor = b ^ r.shift();
    r.push(0);
    for (let i = 0; i < gen.length; i++) r[i] ^= gfMul(gen[i], factor);
  }
  return r;
}

/** The bits of `text` (UTF-8, byte mode) padded to version `v`'s data codewords. */
function dataBits(bytes, v) {
  const bits = [];
  const put = (value, n) => { for (let i = n - 1; i >= 0; i--) bits.push((value >>> i) & 1); };
  put(0b0100, 4);
  put(bytes.length, v <= 9 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  const capacity = dataCodewords(v) * 8;
  put(0, Math.min(4, capacity - bits.length));
  put(0, (8 - (bits.length % 8)) % 8);
  for (let pad = 0xec; bits.length < capacity; pad ^= 0xec ^ 0x11) put(pad, 8);
  const words = [];
  for (let i = 0; i < bits.length; i += 8) words.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
  return words;
}

/** Data codewords split into blocks, each with its error correction, interleaved. */
function interleave(words, v) {
  const nBlocks = BLOCKS[v - 1];
  const ecLen = ECC_PER_BLOCK[v - 1];
  const raw = rawCodewords(v);
  const shortLen = Math.floor(raw / nBlocks);
  const nShort = nBlocks - (raw % nBlocks);
  const gen = rsGenerator(ecLen);
  const blocks = [];
  let k = 0;
  for (let i = 0; i < nBlocks; i++) {
    const len = shortLen - ecLen + (i < nShort ? 0 : 1);
    const data = words.slice(k, k + len);
    k += len;
    blocks.push({ data, ecc: rsRemainder(data, gen) });
  }
  const out = [];
  for (let i = 0; i <= shortLen - ecLen; i++) for (const b of blocks) if (i < b.data.length) out.push(b.data[i]);
  for (let i = 0; i < ecLen; i++) for (const b of blocks) out.push(b.ecc[i]);
  return out;
}

function alignmentPositions(v, size) {
  if (v === 1) return [];
  const n = Math.floor(v / 7) + 2;
  const step = v === 32 ? 26 : Math.ceil((size - 13) / (n * 2 - 2)) * 2;
  const pos = [6];
  for (let p = size - 7; pos.length < n; p -= step) pos.splice(1, 0, p);
  return pos;
}

const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

/** BCH remainder of `value` (of `bits` bits) by `poly` (of degree `deg`). */
function bch(value, deg, poly) {
  let r = value << deg;
  for (let i = 31 - Math.clz32(r); i >= deg; i--) if ((r >>> i) & 1) r ^= poly << (i - deg);
  return (value << deg) | r;
}

/**
 * The QR code of `text`: `{ size, dark(x, y) }`. Throws if the text does not fit
 * (over 2331 bytes at level M).
 */
export function qrCode(text) {
  const bytes = [...new TextEncoder().encode(text)];
  let v = 1;
  while (v <= 40 && dataCodewords(v) * 8 < 4 + (v <= 9 ? 8 : 16) + bytes.length * 8) v++;
  if (v > 40) throw new Error('too long for a QR code');
  const size = v * 4 + 17;
  const dark = Array.from({ length: size }, () => new Array(size).fill(false));
  const fixed = Array.from({ length: size }, () => new Array(size).fill(false));
  const set = (x, y, on) => { dark[y][x] = on; fixed[y][x] = true; };

  // Timing patterns, then finders (with separators), alignment patterns, dark module.
  for (let i = 0; i < size; i++) { set(6, i, i % 2 === 0); set(i, 6, i % 2 === 0); }
  for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const x = cx + dx;
        const y = cy + dy;
        if (x < 0 || y < 0 || x >= size || y >= size) continue;
        const d = Math.max(Math.abs(dx), Math.abs(dy));
        set(x, y, d !== 2 && d !== 4);
      }
    }
  }
  const al = alignmentPositions(v, size);
  for (let i = 0; i < al.length; i++) {
    for (let j = 0; j < al.length; j++) {
      const corner = (i === 0 && j === 0) || (i === 0 && j === al.length - 1) || (i === al.length - 1 && j === 0);
      if (corner) continue;
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) set(al[i] + dx, al[j] + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
    }
  }
  // Reserve the format areas (drawn after the mask is chosen) and draw version info.
  const format = (mask) => {
    const bits = bch((FORMAT_M << 3) | mask, 10, 0x537) ^ 0x5412;
    const bit = (i) => ((bits >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i++) set(8, i, bit(i));
    set(8, 7, bit(6));
    set(8, 8, bit(7));
    set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) set(size - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) set(8, size - 15 + i, bit(i));
    set(8, size - 8, true);
  };
  format(0);
  if (v >= 7) {
    const bits = bch(v, 12, 0x1f25);
    for (let i = 0; i < 18; i++) {
      const on = ((bits >>> i) & 1) === 1;
      const a = size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      set(a, b, on);
      set(b, a, on);
    }
  }

  // Data in the zigzag, right to left in column pairs, skipping the timing column.
  const words = interleave(dataBits(bytes, v), v);
  let i = 0;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let vert = 0; vert < size; vert++) {
      for (let j = 0; j < 2; j++) {
        const x = right - j;
        const upward = ((right + 1) & 2) === 0;
        const y = upward ? size - 1 - vert : vert;
        if (fixed[y][x]) continue;
        dark[y][x] = i < words.length * 8 && ((words[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
        i++;
      }
    }
  }

  // The mask with the fewest long runs and 2x2 blocks (a simplified penalty).
  const apply = (m) => {
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (!fixed[y][x] && MASKS[m](x, y)) dark[y][x] = !dark[y][x];
  };
  const penalty = () => {
    let p = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (x + 4 < size && [1, 2, 3, 4].every((d) => dark[y][x + d] === dark[y][x])) p += 1;
        if (y + 4 < size && [1, 2, 3, 4].every((d) => dark[y + d][x] === dark[y][x])) p += 1;
        if (x + 1 < size && y + 1 < size && dark[y][x] === dark[y][x + 1] && dark[y][x] === dark[y + 1][x] && dark[y][x] === dark[y + 1][x + 1]) p += 3;
      }
    }
    return p;
  };
  let best = 0;
  let bestScore = Infinity;
  for (let m = 0; m < 8; m++) {
    apply(m);
    format(m);
    const score = penalty();
    if (score < bestScore) { bestScore = score; best = m; }
    apply(m);
  }
  apply(best);
  format(best);
  return { size, version: v, dark: (x, y) => dark[y][x] };
}

/** The code as an SVG element: black modules on white, with the quiet zone of 4. */
export function qrSvg(text, { label = 'QR code' } = {}) {
  const q = qrCode(text);
  const n = q.size + 8;
  let path = '';
  for (let y = 0; y < q.size; y++) for (let x = 0; x < q.size; x++) if (q.dark(x, y)) path += `M${x + 4} ${y + 4}h1v1h-1z`;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${n} ${n}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(ns, 'rect');
  bg.setAttribute('width', n);
  bg.setAttribute('height', n);
  bg.setAttribute('fill', '#fff');
  const fg = document.createElementNS(ns, 'path');
  fg.setAttribute('d', path);
  fg.setAttribute('fill', '#000');
  svg.append(bg, fg);
  return svg;
}
