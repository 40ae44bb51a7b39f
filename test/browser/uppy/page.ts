// The Uppy test page, as an app that uses Uppy would write it: Uppy with the Dashboard (inline) and
// @uppy/tus pointed at Ferry's tus endpoint. Bundled by esbuild at test time (bundle.ts), not by the
// project's build. The endpoint comes from the page's query (?endpoint=http://…/tus/).
// What the test reads is exposed on window.uppyTest: Uppy itself and the events it reported.
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import Tus from '@uppy/tus';
import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';

export interface UppyTestHooks {
  uppy: Uppy;
  endpoint: string;
  /** upload-success and upload-error events, in order: file name, upload URL or error message. */
  events: Array<{ type: 'success' | 'error'; name: string; url?: string; message?: string }>;
  /** The result of uppy.upload() once it settled (successful and failed file names). */
  result: { successful: string[]; failed: string[] } | null;
}

declare global {
  interface Window {
    uppyTest: UppyTestHooks;
  }
}

const endpoint = new URLSearchParams(location.search).get('endpoint');
if (!endpoint) throw new Error('the page needs ?endpoint=<Ferry tus endpoint>');

// The defaults matter here: @uppy/tus stores each upload's URL in localStorage under a fingerprint of
// the file (storeFingerprintForResuming), so the same file added after a reload resumes that upload.
const uppy = new Uppy({ id: 'ferry-uppy-test', autoProceed: false })
  .use(Dashboard, { inline: true, target: '#uppy', height: 420, proudlyDisplayPoweredByUppy: false })
  .use(Tus, { endpoint });

const hooks: UppyTestHooks = { uppy, endpoint, events: [], result: null };
window.uppyTest = hooks;

uppy.on('upload-success', (file, response) => {
  hooks.events.push({ type: 'success', name: file?.name ?? '?', url: response.uploadURL });
});
uppy.on('upload-error', (file, error) => {
  hooks.events.push({ type: 'error', name: file?.name ?? '?', message: error.message });
});
uppy.on('complete', (result) => {
  hooks.result = {
    successful: (result.successful ?? []).map((f) => f.name ?? '?'),
    failed: (result.failed ?? []).map((f) => f.name ?? '?'),
  };
});

document.body.dataset.ready = 'true';
