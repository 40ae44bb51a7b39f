#!/usr/bin/env node
// Entry for `npx ferry` / the installed `ferry` command: runs the compiled CLI.
import '../dist/cli/main.js';
