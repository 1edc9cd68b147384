// mocha's spec reporter plus one plain summary line that .ci/run reads:
//   TEST SUMMARY: <passed> passed, <failed> failed, <missing> missing prerequisites
// A test that failed because a prerequisite is missing counts as missing, not failed.
import Mocha from 'mocha';
import { isMissingPrerequisite } from './prerequisites';

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    let missing = 0;
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (_test, err) => {
      if (isMissingPrerequisite(err)) missing++;
    });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const stats = runner.stats!;
      // After the spec reporter's own epilogue.
      process.on('exit', () =>
        console.log(`TEST SUMMARY: ${stats.passes} passed, ${stats.failures - missing} failed, ${missing} missing prerequisites`),
      );
    });
  }
}

export = SummaryReporter;
