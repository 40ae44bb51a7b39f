// A minimum data rate for request bodies: a body that brings fewer than --min-body-rate bytes per
// second over a whole window is answered 408 and its connection closed, so a trickling client holds a
// connection (and a chunk's lock) for seconds, not for the whole request time limit.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import { loggablePath, sendProblem } from '../http.js';
import { limitHit } from '../metrics.js';

/** Watches the request's body from its headers until it has all arrived or an answer has begun. */
export function watchBodyRate(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): void {
  const { minBodyRate, minBodyRateWindowSeconds } = ctx.config;
  if (minBodyRate <= 0 || !hasBody(req)) return;
  const windowMs = minBodyRateWindowSeconds * 1000;
  const socket = req.socket;
  // Counted at the socket, not with a 'data' listener: that would start the body flowing.
  let mark = socket.bytesRead;
  // A window in which the server held the body back (its reader paused it, or had not read what came)
  // measures the server, not the client: it is not judged. (Not req.isPaused(): a reader using
  // read() or an async iterator looks paused all along.)
  let paused = false;
  let excused = false;
  const onPause = () => (paused = excused = true);
  const onResume = () => (paused = false);
  const timer = setInterval(() => {
    if (req.complete || res.headersSent || socket.destroyed) return stop();
    const moved = socket.bytesRead - mark;
    mark = socket.bytesRead;
    const heldBack = excused || req.readableLength > 0;
    excused = paused;
    if (heldBack || moved >= (minBodyRate * windowMs) / 1000) return;
    stop();
    limitHit(ctx, 'body-rate');
    ctx.log.info({ event: 'body-too-slow', method: req.method, url: loggablePath(req.url), remote: socket.remoteAddress, bytes: moved }, 'request body too slow');
    sendProblem(
      req,
      res,
      new FerryError('request-timeout', `The body brought ${moved} bytes in ${minBodyRateWindowSeconds} s; at least ${minBodyRate} bytes/s are needed.`, {
        minBodyRate,
      }),
    );
    // The answer closes the connection, but a request whose response has finished is no longer ended
    // by its socket's close: end it, so whatever reads its body (holding a chunk's lock) stops too.
    // Without an error: a request nobody listens to yet must not throw.
    socket.once('close', () => req.destroy());
  }, windowMs);
  timer.unref();
  function stop(): void {
    clearInterval(timer);
    req.off('pause', onPause);
    req.off('resume', onResume);
    req.off('end', stop);
    res.off('close', stop);
  }
  req.on('pause', onPause);
  req.on('resume', onResume);
  req.once('end', stop);
  res.once('close', stop);
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
