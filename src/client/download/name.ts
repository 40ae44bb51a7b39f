// The local file name for a download: the server's suggestion (Content-Disposition, filename*
// preferred, RFC 6266 / 8187) or the URL's last segment, reduced to a safe base name.

/** The name a Content-Disposition value suggests, unsanitized; null when it names none. */
export function fileNameFromDisposition(value: string | null | undefined): string | null {
  if (!value) return null;
  const params = parseParams(value);
  const extended = params.get('filename*');
  if (extended !== undefined) {
    const decoded = decodeExtValue(extended);
    if (decoded) return decoded;
  }
  return params.get('filename') || null;
}

/** `a; filename="x \"y\""; filename*=UTF-8''z` → lowercased parameter names to values. */
function parseParams(value: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /;\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const name = m[1]!.toLowerCase();
    let v = m[2]!.trim();
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    if (!out.has(name)) out.set(name, v);
  }
  return out;
}

/** RFC 8187 ext-value: charset'language'percent-encoded. UTF-8 and ISO-8859-1 only. */
function decodeExtValue(v: string): string | null {
  const m = /^([\w!#$%&+^`{}~-]*)'[^']*'(.*)$/.exec(v);
  if (!m) return null;
  const charset = m[1]!.toLowerCase();
  try {
    if (charset === 'utf-8') return decodeURIComponent(m[2]!);
    if (charset === 'iso-8859-1') return m[2]!.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  } catch {
    return null;
  }
  return null;
}

/**
 * A name that stays in the directory it is saved to: the last path component only (either slash),
 * no control characters, no "." / "..", no leading dot (no hidden or dot files by surprise).
 */
export function sanitizeFileName(name: string): string | null {
  const base = (name.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (base === '' || /^\.+$/.test(base)) return null;
  let clean = base.replace(/^\.+/, (dots) => '_'.repeat(dots.length));
  // File systems limit a name to 255 bytes, not characters.
  while (new TextEncoder().encode(clean).byteLength > 255) clean = clean.slice(0, -1);
  return clean;
}

/** The server's suggestion, else the URL's last path segment, else "download". */
export function suggestFileName(suggested: string | null, url: string): string {
  const fromServer = suggested === null ? null : sanitizeFileName(suggested);
  if (fromServer) return fromServer;
  const segment = new URL(url).pathname.split('/').filter(Boolean).pop();
  let decoded = segment ?? '';
  try {
    decoded = decodeURIComponent(decoded);
  } catch {
    // keep it encoded
  }
  return sanitizeFileName(decoded) ?? 'download';
}
