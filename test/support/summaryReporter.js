/** One last line that says what ran, for CI logs and for people skimming them. */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTotalTestSuites, numFailedTestSuites } = results;
    process.stdout.write(
      `\nHearth tests: ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests} skipped, in ${numTotalTestSuites} files (${numFailedTestSuites} failing)\n`,
    );
  }
}
module.exports = SummaryReporter;
