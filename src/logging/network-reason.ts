/**
 * What a person needs to know when an HTTP request to another host failed before any answer: the
 * network's reason in words and the code to search for. Used for webhooks and by the CLI.
 */

/**
 * Why a request got no answer, from fetch's `cause` (undici wraps the socket's error): connection
 * refused, DNS, reset, timeout, unreachable, each with its code, else the error's own message.
 */
export function networkReason(error: unknown, url: string): string {
  let cause = (error as { cause?: unknown }).cause ?? error;
  // Several addresses tried (IPv6 and IPv4 of `localhost`): the first one's reason stands for all.
  if (cause instanceof AggregateError && cause.errors.length > 0 && !(cause as NodeJS.ErrnoException).code) cause = cause.errors[0];
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const host = URL.canParse(url) ? new URL(url).hostname : url;
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused by ${host} (ECONNREFUSED)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `DNS lookup of ${host} failed (${code})`;
    case 'ECONNRESET':
      return `connection reset by ${host} (ECONNRESET)`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `connecting to ${host} timed out (${code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${host} is unreachable (${code})`;
    default: {
      const text = cause instanceof Error ? cause.message : String(cause);
      return code && !text.includes(code) ? `${text} (${code})` : text;
    }
  }
}
