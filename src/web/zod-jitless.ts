// Imported first by the page: zod compiles fast parsers with `new Function` unless told not to, and the
// page's Content-Security-Policy forbids eval (the blocked attempt would be logged as a violation).
// Must run before any schema is built, which happens when the protocol module is first evaluated.
import { z } from 'zod';

z.config({ jitless: true });
