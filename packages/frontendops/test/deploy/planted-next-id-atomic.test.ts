/**
 * On an atomic stack, as in place (planted-next-id.test.ts): a record planted under the deploy id the
 * next deploy or rollback gets (engine/ids.ts deployIdFor, computed from what the bucket shows) is
 * refused TAMPERED, naming the object, before anything is written: no copy, no release index, no
 * switch, no entry, no crash-recovery record. A record of this very change's own run that no entry
 * binds is still written over, and the deploy finishes.
 */
import { plantedNextIdCases } from '../support/planted-next-id.ts';

plantedNextIdCases('atomic');
