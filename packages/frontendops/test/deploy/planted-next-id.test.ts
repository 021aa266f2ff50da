/**
 * Deploy ids are deterministic (engine/ids.ts deployIdFor: the stack, app, commit, build and the
 * deployment live before), so whoever can write the state bucket computes the id the next deploy of a
 * published build gets and plants `deployments/<that id>.json` under the stack's state prefix. That
 * deploy, and a rollback, refuse it (TAMPERED, naming the object) before anything is written: no
 * copy, no pointer switch, no entry, no crash-recovery record. A record of this very change's own
 * run that no entry binds is still written over, and the deploy finishes.
 */
import { plantedNextIdCases } from '../support/planted-next-id.ts';

plantedNextIdCases('in place');
