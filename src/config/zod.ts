/**
 * zod as avocado uses it: the functional build (zod/mini), imported as `import * as z from
 * 'zod/mini'` next to `import './zod.js'`, which gives it its English messages. Every command
 * validates its config, and the classic build (`zod`) takes some 65 ms to load, a quarter of a
 * small image's build; the functional one, tree-shaken, about 2 ms. (Re-exporting its namespace
 * from here would defeat the tree-shaking.)
 */
import en from 'zod/v4/locales/en.js';
import { config } from 'zod/mini';

config(en());
