/** One line per event on stdout/stderr; Docker adds the timestamps. */
export const log = {
  info: (msg: string): void => console.log(`[info] ${msg}`),
  warn: (msg: string): void => console.warn(`[warn] ${msg}`),
  error: (msg: string): void => console.error(`[error] ${msg}`),
};
