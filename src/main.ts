#!/usr/bin/env -S node --max-semi-space-size=1 --v8-pool-size=1
import { turbofanGivenOff, withoutTurbofan } from './sys/turbofan.js';

// fune's entry: cli.ts, loaded with Turbofan off (see withoutTurbofan), is the command line (its daemon command
// keeps it off until the daemon is ready).
turbofanGivenOff(process.env.NODE_OPTIONS ?? '');
await withoutTurbofan(() => import('./cli.js'));
