// Getting files from the person: a real button that opens the file dialog, and drag-and-drop onto
// the drop area (or anywhere on the page, so a near miss does not open the file in the tab).
import { byId } from './dom.js';

export function onFilesChosen(handler: (files: File[]) => void): void {
  const input = byId<HTMLInputElement>('file-input');
  const zone = byId('drop-zone');
  byId('choose-files').addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    const files = [...(input.files ?? [])];
    // Cleared so choosing the same file again (to resume it) fires "change" again.
    input.value = '';
    if (files.length > 0) handler(files);
  });

  let depth = 0; // dragenter/dragleave fire for every child element crossed
  const hasFiles = (e: DragEvent) => e.dataTransfer?.types.includes('Files') ?? false;
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth++;
    zone.classList.add('dragging');
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove('dragging');
  });
  window.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  });
  window.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    zone.classList.remove('dragging');
    // Folders appear as entries too; keep only real files (a folder "file" has no readable bytes).
    const files = [...(e.dataTransfer?.items ?? [])]
      .filter((item) => item.kind === 'file' && (item.webkitGetAsEntry?.()?.isFile ?? true))
      .map((item) => item.getAsFile())
      .filter((f): f is File => f !== null);
    if (files.length > 0) handler(files);
  });
}
