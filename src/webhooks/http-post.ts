import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface PostResult {
  status: number;
  headers: IncomingHttpHeaders;
}

/**
 * One POST with a deadline, on keep-alive connections capped at `maxSockets` (the worker's
 * concurrency). node:http rather than fetch: per request it allocates and costs less CPU,
 * which matters because delivery shares the event loop with signaling. The response body is
 * never read into memory, only drained.
 */
export class WebhookPoster {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly timeoutMs: number;

  constructor(url: string, timeoutMs: number, maxSockets: number) {
    this.url = new URL(url);
    this.timeoutMs = timeoutMs;
    const options = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets };
    this.agent = this.url.protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
  }

  post(body: string, headers: OutgoingHttpHeaders, signal: AbortSignal): Promise<PostResult> {
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        signal,
        timeout: this.timeoutMs,
      });
      // The whole exchange, not just socket idleness, must fit in the deadline.
      const deadline = setTimeout(
        () => req.destroy(new Error(`no answer within WEBHOOK_TIMEOUT_MS (${this.timeoutMs} ms)`)),
        this.timeoutMs,
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within WEBHOOK_TIMEOUT_MS (${this.timeoutMs} ms)`)));
      req.on('error', (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      req.on('response', (res) => {
        res.on('error', () => undefined);
        res.on('end', () => clearTimeout(deadline));
        res.resume();
        // Answered: the status is all we need. The deadline stays until the body is drained,
        // so a receiver trickling a body cannot hold a connection for longer.
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
