# Java: the TensorFlow Java client (java/). Maven resolves and packages once (a stamp
# over pom.xml and the sources); the tests then run offline, and bin/deploykit-java runs the
# packaged jar on java/target/lib/* without Maven.

.PHONY: setup-java test-java demo-java bench-java

JAVA_DIR := java
JAVA_TARGET := $(JAVA_DIR)/target
JAVA_SOURCES := $(JAVA_DIR)/pom.xml $(shell find $(JAVA_DIR)/src -type f 2>/dev/null)
MVN := mvn -B -q -f $(JAVA_DIR)/pom.xml

setup-java: $(JAVA_TARGET)/.setup-stamp

# `package` compiles main and test code, copies the runtime classpath to target/lib and runs one
# fixture-free unit test: Surefire resolves its JUnit Platform provider only when it runs a test,
# and `mvn -o test` needs it cached. (The full suite needs `make test-fixtures`, see test-java.)
$(JAVA_TARGET)/.setup-stamp: $(JAVA_SOURCES)
	@command -v mvn >/dev/null || { echo "setup-java: Maven (mvn) and a JDK 17 are required" >&2; exit 1; }
	$(MVN) package -Dtest='HashingCompareTest#tolerancesPrintLikePython'
	@touch $@

# Not -q: Surefire's "Tests run: N, Failures: ..." summary is what CI reads.
test-java: setup-java test-fixtures
	mvn -B -o -ntp -Dstyle.color=never -f $(JAVA_DIR)/pom.xml test

demo-java: setup-java
	java/scripts/demo.sh "$(MODELS)/manifest.json" "$(PY)"

# Latency, throughput and native memory of TF Java in-process (not a test). A fixed, pre-touched
# heap keeps the Java heap's growth out of the RSS numbers. TF Python on the same SavedModels:
#   $(PY) -m builder bench --manifest $(DEPLOYKIT_TEST_MANIFEST) --models mlp_keras wide_keras --runtimes tf-python java
bench-java: setup-java test-fixtures
	TF_CPP_MIN_LOG_LEVEL=3 java -Xms128m -Xmx128m -XX:+AlwaysPreTouch -cp "$(JAVA_TARGET)/deploykit-java.jar:$(JAVA_TARGET)/lib/*" \
	  dev.deploykit.Bench "$(DEPLOYKIT_TEST_MANIFEST)" 2>/dev/null
