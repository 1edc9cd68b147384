// The request descriptor has one definition (src/lib/native/descriptor.ts);
// the addon's C++ struct must match it field for field.
import * as assert from 'node:assert/strict';
import { addon } from '../../src/lib/native/addon';
import { DESC_WORDS, DESCRIPTOR_LAYOUT, Double, Word } from '../../src/lib/native/descriptor';

describe('request descriptor', () => {
  it('the C++ struct has the TypeScript definition\'s size and field offsets', () => {
    const compiled = (addon as unknown as { descriptorLayout: Record<string, number> }).descriptorLayout;
    assert.deepEqual({ ...compiled }, { ...DESCRIPTOR_LAYOUT });
  });

  it('the word and double positions name the same bytes as the layout', () => {
    assert.equal(DESC_WORDS * 4, DESCRIPTOR_LAYOUT.bytes);
    assert.equal(Word.Op * 4, DESCRIPTOR_LAYOUT.op);
    assert.equal(Word.Flags * 4, DESCRIPTOR_LAYOUT.flags);
    assert.equal(Word.Slot * 4, DESCRIPTOR_LAYOUT.slot);
    assert.equal(Word.Region * 4, DESCRIPTOR_LAYOUT.region);
    assert.equal(Word.StartLo * 4, DESCRIPTOR_LAYOUT.startLo);
    assert.equal(Word.StartHi * 4, DESCRIPTOR_LAYOUT.startHi);
    assert.equal(Double.Len * 8, DESCRIPTOR_LAYOUT.len);
    assert.equal(Double.Addr * 8, DESCRIPTOR_LAYOUT.addr);
  });
});
