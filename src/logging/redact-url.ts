/**
 * A URL as it may be shown or logged: without the user name and password, and without the query,
 * which is where API keys usually travel. A string that is not a URL is shown as it is.
 */

/** `scheme://host:port/path` of `url`, with `?…` where a query was. */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  const query = parsed.search === '' ? '' : '?…';
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  const text = parsed.toString();
  // `mqtt://host:1883/` reads better without the slash the URL class adds to an empty path.
  return `${parsed.pathname === '/' && !url.endsWith('/') ? text.slice(0, -1) : text}${query}`;
}
