// The committed API reference is the one the published declarations give.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { API_DOC, renderApiDoc } from '../tools/api-doc';

describe('API reference (docs/api.md)', () => {
  it('matches the TSDoc of dist/lib (run `npm run docs` after changing the public API)', () => {
    assert.equal(fs.readFileSync(API_DOC, 'utf8'), renderApiDoc());
  });
});
