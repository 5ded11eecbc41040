//! How numbers and times read on the page: byte sizes, time left, dates.

/**
 * A byte count in decimal units, as disks and operating systems label files:
 * 1 kB = 1000 bytes, 1 MB = 1000 kB (300,000,000 bytes read "300 MB").
 */
export function formatBytes(n) {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n / 1000;
  let u = 0;
  // 999,950 bytes would round to "1000 kB": step up before rounding does.
  while (v >= 999.5 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 9.95 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export function formatDuration(s) {
  if (!Number.isFinite(s)) return '';
  if (s < 60) return `${Math.max(1, Math.round(s))} s left`;
  if (s < 3600) return `${Math.round(s / 60)} min left`;
  return `${(s / 3600).toFixed(1)} h left`;
}

/** Dates with seconds, so two uploads of the same file a minute apart read differently. */
export const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
