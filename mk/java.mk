# Java: the TensorFlow Java client (java/), a Maven multi-module build: the library
# (java/deploykit, no picocli, no platform natives), the command line (java/deploykit-cli) and the
# benchmark (java/deploykit-bench). Maven resolves and packages once (a stamp over the POMs and the
# sources); the tests then run offline, and bin/deploykit-java runs the CLI's jar on
# java/deploykit-cli/target/lib/* without Maven. Lint: javac -Xlint:all with every warning an
# error (pom.xml, so every build lints) and google-java-format 1.28.0 through Spotless.

.PHONY: setup-java test-java demo-java bench-java lint-java format-java

JAVA_DIR := java
JAVA_TARGET := $(JAVA_DIR)/target
JAVA_CLI_TARGET := $(JAVA_DIR)/deploykit-cli/target
JAVA_SOURCES := $(shell find $(JAVA_DIR) -path '*/target' -prune -o \
  \( -name pom.xml -o -path '*/src/*' \) -type f -print 2>/dev/null)
# -q hides Maven's warnings, javac's lint findings among them: the compiler plugin keeps its own.
MVN := mvn -B -q -Dorg.slf4j.simpleLogger.log.org.apache.maven.plugin.compiler=warn -f $(JAVA_DIR)/pom.xml
JAVA_LINT_TOOLS := $(JAVA_TARGET)/.lint-tools-stamp

setup-java: $(JAVA_TARGET)/.setup-stamp

# Spotless resolves google-java-format when it runs: one check over no file (the pattern ^$
# matches no path) fetches the plugin and the formatter, so lint-java and format-java run offline.
$(JAVA_LINT_TOOLS): $(JAVA_DIR)/pom.xml
	@command -v mvn >/dev/null || { echo "setup-java: Maven (mvn) and a JDK 17 are required" >&2; exit 1; }
	$(MVN) spotless:check -DspotlessFiles='^$$'
	@mkdir -p $(@D) && touch $@

# `package` compiles main and test code of every module, builds the library's and the CLI's
# sources and javadoc jars, copies the CLI's runtime classpath to deploykit-cli/target/lib and runs
# one fixture-free unit test: Surefire resolves its JUnit Platform provider only when it runs a
# test, and `mvn -o test` needs it cached. (The full suite needs `make test-fixtures`, see
# test-java.) `install:help` caches the install plugin, which the consumer check
# (java/scripts/consumer-test.sh) runs offline.
$(JAVA_TARGET)/.setup-stamp: $(JAVA_SOURCES) $(JAVA_LINT_TOOLS)
	@command -v mvn >/dev/null || { echo "setup-java: Maven (mvn) and a JDK 17 are required" >&2; exit 1; }
	$(MVN) package -Dtest='CliUnitTest' -Dsurefire.failIfNoSpecifiedTests=false
	$(MVN) -N install:help >/dev/null
	@mkdir -p $(@D) && touch $@

# The build (setup-java) has passed javac's lint; this adds the formatter's check, offline.
lint-java: setup-java
	@$(MVN) -o spotless:check
	@echo "lint-java: ok (javac -Xlint:all -Werror, google-java-format 1.28.0 via Spotless 3.11.0)"

format-java: $(JAVA_LINT_TOOLS)
	$(MVN) -o spotless:apply

# Not -q: Surefire's "Tests run: N, Failures: ..." summary is what CI reads. Then the consumer
# check: the library installed into a temporary repository and a separate project (its own POM:
# the library plus the native classifier, no picocli) predicting a golden set.
test-java: setup-java test-fixtures
	mvn -B -o -ntp -Dstyle.color=never -f $(JAVA_DIR)/pom.xml test
	DEPLOYKIT_TEST_MANIFEST="$(DEPLOYKIT_TEST_MANIFEST)" $(JAVA_DIR)/scripts/consumer-test.sh

demo-java: setup-java
	java/scripts/demo.sh "$(MODELS)/manifest.json" "$(PY)"

# Latency, throughput and native memory of TF Java in-process (not a test), and its peer: ONNX
# Runtime Java on the same models' onnx artifacts, interleaved (the bench's own lib/ holds it, never
# the CLI's). A fixed, pre-touched heap keeps the Java heap's growth out of the RSS numbers. TF
# Python on the same SavedModels:
#   $(PY) -m builder bench --manifest $(DEPLOYKIT_TEST_MANIFEST) --models mlp_keras wide_keras --runtimes tf-python java
bench-java: setup-java test-fixtures
	TF_CPP_MIN_LOG_LEVEL=3 java -Xms128m -Xmx128m -XX:+AlwaysPreTouch \
	  -cp "$(JAVA_DIR)/deploykit-bench/target/deploykit-bench.jar:$(JAVA_DIR)/deploykit-bench/target/lib/*" \
	  dev.deploykit.Bench "$(DEPLOYKIT_TEST_MANIFEST)" 2>/dev/null
