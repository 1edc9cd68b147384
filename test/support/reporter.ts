// mocha's spec reporter plus one plain summary line that .ci/run reads.
import Mocha from 'mocha';

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const stats = runner.stats!;
      // After the spec reporter's own epilogue.
      process.on('exit', () => console.log(`TEST SUMMARY: ${stats.passes} passed, ${stats.failures} failed`));
    });
  }
}

export = SummaryReporter;
