// Row 9: names carrying bidirectional or invisible format characters (U+202E shows "gnp.exe" as
// "exe.png"). Refused, or stored with the characters removed, in the upload and in the listing.
import type { ProbeSpec } from '../support/harness.js';
import { emptyFile } from '../support/ferry.js';

const formatChars = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/u;
const names = ['invoice\u202Egnp.exe', 'report\u2067fdp.exe\u2069', 'zero\u200Bwidth.txt', 'mark\u200Fname.txt'];

export const namesProbe: ProbeSpec = {
  id: 'bidi-name',
  title: 'a name with U+202E (right-to-left override) and other invisible format characters',
  bound: '400, or stored without them (upload and listing); 0 5xx',
  async run(env) {
    const http = env.http;
    return env.measure(async () => {
      const outcomes: string[] = [];
      let ok = true;
      for (const name of names) {
        const { create } = await emptyFile(http, { name });
        const code = name.match(formatChars)![0].codePointAt(0)!.toString(16).toUpperCase();
        if (create.status === 400) outcomes.push(`U+${code}: 400`);
        else if (create.status === 201) {
          const stored = String(create.json?.name ?? '');
          const clean = !formatChars.test(stored);
          ok &&= clean;
          outcomes.push(`U+${code}: 201 ${clean ? 'removed' : 'kept'}`);
        } else {
          ok = false;
          outcomes.push(`U+${code}: ${create.status}`);
        }
      }
      const list = await http.send('GET', '/files?limit=100');
      // Parsed, so that a name the server escaped as \u202e counts too.
      const listClean = list.status === 200 && !formatChars.test(JSON.stringify(list.json ?? null));
      return {
        result: outcomes.join('; '),
        checks: { 'format characters refused or removed': ok, 'none in the listing': listClean },
      };
    });
  },
};
