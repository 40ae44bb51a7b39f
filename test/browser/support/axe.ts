// axe-core in the page, with the page's Content-Security-Policy untouched: the script is offered as
// an asset of the page's own origin ('self', which the CSP allows), answered by this browser context
// itself (Playwright's request interception). Nothing is added to the server, in tests or otherwise.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** The standards the page is held to: WCAG 2.0 and 2.1, levels A and AA. */
export const wcagAA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

export interface Violation {
  id: string;
  impact: string | null;
  help: string;
  /** CSS selectors of the offending elements, with axe's summary of what is wrong. */
  nodes: Array<{ target: string; summary: string }>;
}

/** Runs axe on the page as it is now; returns the WCAG A/AA violations (none is the goal). */
export async function axeViolations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) {
    const url = new URL('__test__/axe.min.js', page.url()).href;
    await page.route(url, (route) => route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body: axeSource }));
    await page.addScriptTag({ url });
  }
  return page.evaluate(async (tags) => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[]; failureSummary?: string }> }> }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.map(String).join(' '), summary: n.failureSummary ?? '' })),
    }));
  }, wcagAA);
}

/**
 * Contrast of each element's text against the first opaque background behind it, as WCAG computes
 * it (relative luminance). For the colours the page sets itself; no gradients or images are involved.
 */
export function textContrast(page: Page, selector: string): Promise<Array<{ text: string; ratio: number }>> {
  return page.evaluate((sel) => {
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const background = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
      }
      return rgb(getComputedStyle(document.documentElement).backgroundColor).slice(0, 3);
    };
    return [...document.querySelectorAll(sel)]
      .filter((el) => (el as HTMLElement).offsetParent !== null && el.textContent!.trim() !== '')
      .map((el) => {
        const a = lum(rgb(getComputedStyle(el).color));
        const b = lum(background(el));
        return { text: el.textContent!.trim().slice(0, 40), ratio: Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 100) / 100 };
      });
  }, selector);
}
