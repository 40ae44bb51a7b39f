// Getting files from the person: "Choose files…" and "Choose folder…" buttons that open the dialogs,
// drag-and-drop of files and folders onto the drop area (or anywhere on the page, so a near miss does
// not open the file in the tab), and pasting files. Folders keep each file's path inside them.
import { byId } from './dom.js';
import { byPath, readDrop, type Picked } from './folder-walk.js';

export function onFilesChosen(handler: (picked: Picked) => void): void {
  const zone = byId('drop-zone');
  const fileInput = byId<HTMLInputElement>('file-input');
  const folderInput = byId<HTMLInputElement>('folder-input');
  byId('choose-files').addEventListener('click', () => fileInput.click());
  const chooseFolder = byId('choose-folder');
  chooseFolder.addEventListener('click', () => folderInput.click());
  // A browser without folder choosing (older mobile ones) would open a plain file dialog: no button then.
  chooseFolder.hidden = !('webkitdirectory' in folderInput);

  fileInput.addEventListener('change', () => {
    const files = [...(fileInput.files ?? [])];
    // Cleared so choosing the same file again (to resume it) fires "change" again.
    fileInput.value = '';
    if (files.length > 0) handler({ files: files.map((file) => ({ file, relativePath: null })), skipped: [] });
  });
  folderInput.addEventListener('change', () => {
    const files = [...(folderInput.files ?? [])];
    folderInput.value = '';
    // webkitRelativePath starts with the chosen folder's own name ("photos/2024/a.jpg").
    const picked = files.map((file) => ({ file, relativePath: file.webkitRelativePath || null }));
    picked.sort(byPath);
    handler({ files: picked, skipped: files.length === 0 ? ['the folder you chose has no files'] : [] });
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
    if (!hasFiles(e) || !e.dataTransfer) return;
    e.preventDefault();
    depth = 0;
    zone.classList.remove('dragging');
    // The items are readable only during this event: readDrop takes them now, walks folders after.
    void readDrop(e.dataTransfer.items).then(handler, () => handler({ files: [], skipped: ['what was dropped could not be read'] }));
  });

  // Ctrl/Cmd-V with files on the clipboard (a screenshot, files copied in a file manager).
  document.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files ?? [])];
    if (files.length === 0 || zone.hidden) return;
    e.preventDefault();
    handler({ files: files.map((file) => ({ file, relativePath: null })), skipped: [] });
  });
}
