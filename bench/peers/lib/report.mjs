// Turns the peer benchmark's JSON into the "Peers" table of docs/BENCHMARKS.md and
// a bar chart, docs/peers.svg (drawn here: no plotting dependency).
import fs from 'node:fs';
import path from 'node:path';

const BEGIN = '<!-- peers:begin (written by bench/peers/run.mjs --write) -->';
const END = '<!-- peers:end -->';
const fmt = (x) => (x === undefined ? '—' : Math.round(x).toLocaleString('en-US'));
const label = (r) => `${r.name} — ${r.variant}`;

/** Markdown table rows: one per contender, the sizes side by side. */
export function table(result) {
  const sizes = [...new Set(result.results.map((r) => r.sizeMiB))];
  const keys = [...new Set(result.results.map(label))];
  const head = [
    '| library | streams | ' + sizes.map((s) => `${s} MiB enc / dec MB/s (spread) | ${s} MiB peak RSS growth enc / dec`).join(' | ') + ' |',
    '|---|---|' + sizes.map(() => '---|---|').join(''),
  ];
  const rows = keys.map((k) => {
    const of = result.results.filter((r) => label(r) === k);
    const cells = sizes.map((s) => {
      const r = of.find((x) => x.sizeMiB === s);
      if (!r) return '— | —';
      if (!r.encrypt) return `**fails**: ${String(r.error ?? 'no result').replace(/\|/g, '/').slice(0, 90)} | —`;
      const sp = (d) => `${fmt(d.spreadMBps[0])}–${fmt(d.spreadMBps[1])}`;
      const spread = r.encrypt.runs > 1 ? ` (${sp(r.encrypt)} / ${sp(r.decrypt)})` : ' (1 run)';
      return `${fmt(r.encrypt.mbps)} / ${fmt(r.decrypt.mbps)}${spread} | ${fmt(r.encrypt.peakRssGrowthMiB)} / ${fmt(r.decrypt.peakRssGrowthMiB)} MiB`;
    });
    const first = of[0];
    const largest = Math.max(0, ...of.filter((r) => r.encrypt).map((r) => r.sizeMiB));
    const streams = first.streams ? 'yes' : `no (whole buffer; largest handled ${largest ? `${largest} MiB` : 'none'})`;
    return `| ${first.raw ? '' : '**'}${first.name}${first.raw ? '' : '**'} — ${first.variant} | ${streams} | ${cells.join(' | ')} |`;
  });
  return [...head, ...rows].join('\n');
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A horizontal bar chart of encrypt and decrypt MB/s at the largest size each handled. */
export function svg(result) {
  const keys = [...new Set(result.results.map(label))];
  const bars = keys.map((k) => {
    const ok = result.results.filter((r) => label(r) === k && r.encrypt).sort((a, b) => b.sizeMiB - a.sizeMiB);
    const r = ok[0] ?? result.results.find((x) => label(x) === k);
    const failed = result.results.filter((x) => label(x) === k && !x.encrypt).map((x) => `${x.sizeMiB} MiB failed`);
    return { k, r, failed, name: r.name, variant: r.variant, enc: r.encrypt?.mbps ?? 0, dec: r.decrypt?.mbps ?? 0, size: r.sizeMiB, streams: r.streams };
  });
  const max = Math.max(...bars.flatMap((b) => [b.enc, b.dec]), 1);
  const step = Math.pow(10, Math.floor(Math.log10(max)));
  const top = Math.ceil(max / step) * step;
  const left = 430;
  const width = 900;
  const plot = width - left - 70;
  const rowH = 44;
  const y0 = 70;
  const height = y0 + bars.length * rowH + 40;
  const x = (v) => Math.round((left + (v / top) * plot) * 10) / 10;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Encryption in the browser: MB/s of plaintext (headless Chromium, ${result.cores} cores, ${esc(result.date)})</text>`);
  out.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">largest input each handled (256 MiB unless marked); median of runs; one run, same page; load average ${result.loadAverage?.[0] ?? '?'}</text>`);
  out.push(`<rect x="${left}" y="48" width="12" height="10" fill="#2b6cb0"/><text x="${left + 16}" y="57">encrypt</text>`);
  out.push(`<rect x="${left + 80}" y="48" width="12" height="10" fill="#9ac1ea"/><text x="${left + 96}" y="57">decrypt</text>`);
  for (let v = 0; v <= top; v += top / 5) {
    out.push(`<line x1="${x(v)}" y1="${y0 - 4}" x2="${x(v)}" y2="${height - 30}" stroke="#ddd"/>`);
    out.push(`<text x="${x(v)}" y="${height - 16}" text-anchor="middle" fill="#555">${fmt(v)}</text>`);
  }
  bars.forEach((b, i) => {
    const y = y0 + i * rowH;
    const ours = b.name === 'CipherDrop';
    const note = [b.streams ? 'streams' : 'whole buffer', ...(b.size !== 256 && b.r.encrypt ? [`${b.size} MiB`] : []), ...b.failed].join(', ');
    out.push(`<text x="${left - 8}" y="${y + 14}" text-anchor="end" font-weight="${ours ? 'bold' : 'normal'}">${esc(b.name)}</text>`);
    out.push(`<text x="${left - 8}" y="${y + 29}" text-anchor="end" fill="#555" font-size="10.5">${esc(b.variant.length > 58 ? `${b.variant.slice(0, 56)}…` : b.variant)} (${esc(note)})</text>`);
    out.push(`<rect x="${left}" y="${y + 4}" width="${Math.max(0, Math.round((x(b.enc) - left) * 10) / 10)}" height="15" fill="#2b6cb0"/>`);
    out.push(`<text x="${x(b.enc) + 4}" y="${y + 16}">${fmt(b.enc)}</text>`);
    out.push(`<rect x="${left}" y="${y + 21}" width="${Math.max(0, Math.round((x(b.dec) - left) * 10) / 10)}" height="15" fill="#9ac1ea"/>`);
    out.push(`<text x="${x(b.dec) + 4}" y="${y + 33}">${fmt(b.dec)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Replaces the generated block of the Peers section, and writes docs/peers.svg. */
export function writeDocs(result, root) {
  const docPath = path.join(root, 'docs/BENCHMARKS.md');
  const doc = fs.readFileSync(docPath, 'utf8');
  const block = [
    BEGIN,
    `Run ${result.date}, ${result.seconds} s, load average ${result.loadAverage.join(' / ')} (1/5/15 min), ${result.userAgent.match(/HeadlessChrome\/[\d.]+/)?.[0] ?? ''}, ${result.cores} cores.`,
    '',
    table(result),
    '',
    ...(result.flat?.length
      ? [
          `Flat memory, streaming contenders encrypting ${result.flat[0].sizeMiB} MiB (a 16 MiB input repeated), renderer RSS growth: ` +
            result.flat.map((f) => `${f.name} ${f.error ? `failed (${f.error})` : `+${f.peakRssGrowthMiB} MiB (${fmt(f.encryptMBps)} MB/s)`}`).join(' · ') +
            '.',
          '',
        ]
      : []),
    '![Peers: MB/s by library](peers.svg)',
    END,
  ].join('\n');
  const i = doc.indexOf(BEGIN);
  const j = doc.indexOf(END);
  if (i < 0 || j < 0) throw new Error(`docs/BENCHMARKS.md has no ${BEGIN} … ${END} block in its Peers section`);
  fs.writeFileSync(docPath, doc.slice(0, i) + block + doc.slice(j + END.length));
  fs.writeFileSync(path.join(root, 'docs/peers.svg'), svg(result));
}
