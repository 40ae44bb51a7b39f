// Small previews of image files. The object URL is made only when the row scrolls into view (so 50
// photos chosen at once are not all decoded up front) and revoked when whoever removes the row says
// so (releaseThumbnails): rows also move between lists, which must keep their previews.
import { h } from './dom.js';

/** Larger images are not previewed: decoding them costs more than a 40-pixel picture is worth. */
const maxPreviewBytes = 64 * 1024 * 1024;

/** Live previews and their object URLs (null until shown). */
const live = new Map<HTMLImageElement, string | null>();
let watcher: IntersectionObserver | null = null;
const imgFiles = new WeakMap<HTMLImageElement, File>();

/** A preview for `file` if it is an image, else null; releaseThumbnails() on its row when the row goes. */
export function thumbnailFor(file: File): HTMLImageElement | null {
  if (!file.type.startsWith('image/') || file.size === 0 || file.size > maxPreviewBytes) return null;
  const img = h('img', { class: 'thumb', alt: '', width: 40, height: 40, decoding: 'async' });
  // A type the browser cannot draw (TIFF, HEIC in Chromium): no preview rather than a broken icon.
  img.addEventListener('error', () => {
    img.hidden = true;
    release(img);
  });
  live.set(img, null);
  observer().observe(img);
  imgFiles.set(img, file);
  return img;
}

function observer(): IntersectionObserver {
  watcher ??= new IntersectionObserver((seen) => {
    for (const e of seen) {
      if (!e.isIntersecting) continue;
      const img = e.target as HTMLImageElement;
      const file = imgFiles.get(img);
      watcher!.unobserve(img);
      if (!file || !live.has(img)) continue;
      const url = URL.createObjectURL(file);
      live.set(img, url);
      img.src = url;
    }
  }, { rootMargin: '200px' });
  return watcher;
}

/** Revokes the previews inside `root` (a row about to leave the page, or a list about to be emptied). */
export function releaseThumbnails(root: ParentNode): void {
  for (const img of root.querySelectorAll<HTMLImageElement>('img.thumb')) release(img);
}

function release(img: HTMLImageElement): void {
  const url = live.get(img);
  if (url) URL.revokeObjectURL(url);
  live.delete(img);
  watcher?.unobserve(img);
}
