// Registers ts-loader-hooks.mjs, so a system process forked from TypeScript
// source (under vitest) can run .ts files. Not used when running from dist/.
import { register } from 'node:module';

register('./ts-loader-hooks.mjs', import.meta.url);
