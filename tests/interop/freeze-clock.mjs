// Preload module: freezes the JavaScript clock of a Node process.
//
//   OPENCLAW_TEST_NOW_MS=1772366400000 node --import ./freeze-clock.mjs <script> …
//
// When OPENCLAW_TEST_NOW_MS is set (integer milliseconds since the Unix epoch), `Date.now()`
// and `new Date()` (no arguments) / `Date()` return that instant for the whole life of the
// process; every other use of Date (`new Date(x)`, `Date.parse`, `Date.UTC`, instance methods)
// is unchanged. Timers, `performance.now()` and file mtimes keep the real clock.
// When the variable is unset or empty, this module does nothing.
//
// Caveat for lock tests: OpenClaw judges locks by `Date.now()` against the lock's `createdAt`
// and the lock file's (real) mtime. A frozen clock far from the real one makes OpenClaw see
// foreign locks as stale (frozen time > real time + 30 s), and makes other processes see the
// locks written by the frozen process as stale (its createdAt is the frozen instant).
const raw = process.env.OPENCLAW_TEST_NOW_MS;
if (raw !== undefined && raw.trim() !== "") {
  const nowMs = Number(raw.trim());
  if (!Number.isSafeInteger(nowMs)) {
    throw new Error(`freeze-clock: OPENCLAW_TEST_NOW_MS is not an integer: ${JSON.stringify(raw)}`);
  }
  const RealDate = globalThis.Date;
  function FrozenDate(...args) {
    if (!new.target) {
      // Date() called as a function returns a string of "now".
      return new RealDate(nowMs).toString();
    }
    const d = args.length === 0 ? new RealDate(nowMs) : new RealDate(...args);
    Object.setPrototypeOf(d, new.target.prototype);
    return d;
  }
  FrozenDate.prototype = RealDate.prototype;
  Object.setPrototypeOf(FrozenDate, RealDate);
  FrozenDate.now = () => nowMs;
  FrozenDate.parse = RealDate.parse;
  FrozenDate.UTC = RealDate.UTC;
  Object.defineProperty(FrozenDate, "name", { value: "Date" });
  globalThis.Date = FrozenDate;
}
