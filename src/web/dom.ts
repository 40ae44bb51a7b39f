// A tiny element builder: enough DOM to skip a framework, and text is always set as text (no innerHTML),
// so file names from the server can never become markup.

type Attrs = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

/** h('button', { type: 'button', class: 'link' }, 'Copy link'); false/undefined attributes are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/** The element with this id; a missing one is a bug in index.html, so fail loudly. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el as T;
}

/** Says `text` through the page's polite live region (for screen readers); repeats are re-announced. */
export function announce(text: string): void {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A separate task, so assistive technology sees a change even when the text repeats.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}
