// Where focus goes when what holds it goes away (a dismissed upload, a discarded unfinished one, a
// cleared batch): to the next row, else the one before, else the heading of its section (or of the
// next section still shown). Focus left on a removed element falls back to the page's start.

/**
 * Call before removing `rows` (one of which holds focus); run what it returns once they are gone.
 * Works on rows rebuilt meanwhile too: the neighbour is found again by its position.
 */
export function focusAfterRemoval(row: Element, rows: readonly Element[] = [row]): () => void {
  const list = row.parentElement;
  const siblings = list ? [...list.children] : [];
  const at = siblings.indexOf(row);
  const keep = (e: Element) => !rows.includes(e);
  const next = siblings.slice(at + 1).find(keep) ?? siblings.slice(0, Math.max(at, 0)).reverse().find(keep) ?? null;
  const section = row.closest('section');
  return () => {
    if (next?.isConnected && focusIn(next)) return;
    // The list was rebuilt meanwhile: the row now where the neighbour was (or the one before).
    const now = list?.isConnected ? list.children : null;
    const again = now ? (now[at] ?? now[at - 1]) : undefined;
    if (again && focusIn(again)) return;
    focusHeading(section);
  };
}

/** Focus to the row's first button or link; false when it has none. */
export function focusIn(row: Element): boolean {
  const target = row.querySelector<HTMLElement>('button:not([disabled]), a[href], summary');
  target?.focus();
  return target !== null && document.activeElement === target;
}

/** The section's heading, or when the section is hidden now, that of the next (or previous) one shown. */
export function focusHeading(section: Element | null): void {
  const sections = [...document.querySelectorAll('main section')];
  const at = section ? sections.indexOf(section) : -1;
  const shown = (s: Element) => !s.closest('[hidden]');
  const target = (section && shown(section) ? section : null) ?? sections.slice(at + 1).find(shown) ?? sections.slice(0, Math.max(at, 0)).reverse().find(shown);
  const heading = target?.querySelector<HTMLElement>('h2');
  if (!heading) return;
  if (!heading.hasAttribute('tabindex')) heading.tabIndex = -1;
  heading.focus();
}
